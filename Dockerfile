# syntax=docker/dockerfile:1
# scim-bridge: one image for the SCIM API and the delivery workers (compiled JavaScript,
# production dependencies only, runs as the unprivileged "node" user).
#   docker build -t scim-bridge .
#   docker run -e REDIS_URL=redis://redis:6379 -v "$PWD/config:/app/config:ro" scim-bridge serve --config config/bridge.yaml
#   docker run ... scim-bridge worker --config config/bridge.yaml
# docs/deploy.md has compose and Kubernetes (Helm) set-ups.

# --- build: compile TypeScript with the full dependency tree ---------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY examples ./examples
RUN npm run build

# --- deps: production dependencies only -----------------------------------------------------
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY mappings ./mappings
COPY config ./config
USER node
EXPOSE 8080
# The API answers /readyz; a worker-only container probes its metrics listener instead
# (set HEALTHCHECK_URL, see docs/deploy.md).
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD ["node", "dist/src/cli/main.js", "healthcheck"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
