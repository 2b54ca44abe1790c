import type { ExtensionAttributeConfig, ExtensionConfig } from '../config/extension-schema.js';
import { BUILT_IN_SCHEMA_SOURCES, type AttributeDefinition, type SchemaSource } from './core-schemas.js';
import type { ResourceType } from './types.js';

/**
 * The schemas of one connection: the built-in ones plus the extensions its config declares.
 * Every layer that needs to know what an attribute is asks this registry: normalisation (canonical
 * names, types), PATCH, filters (type and caseExact), discovery (/Schemas, /ResourceTypes).
 * Attribute names and URNs are case-insensitive (RFC 7643 §2.1).
 */

/** Where an attribute path points: the schema holding it, the attribute and its sub-attribute. */
export interface ResolvedAttribute {
  /** Canonical URN of the schema that defines the attribute. */
  schema: string;
  /** Whether the attribute lives under the schema's URN key (extension) or at the top level. */
  extension: boolean;
  attribute: AttributeDefinition;
  /** Present when the path names a sub-attribute (`name.givenName`, `emails.value`). */
  sub?: AttributeDefinition;
}

export interface SchemaRegistry {
  /** Every schema, in /Schemas order: built-in first, then declared extensions. */
  readonly all: readonly SchemaSource[];
  /** The schema with this URN (case-insensitive). */
  get(urn: string): SchemaSource | undefined;
  /** The core schema of a resource type. */
  coreOf(type: ResourceType): SchemaSource;
  /** The extensions of a resource type, enterprise first for users. */
  extensionsOf(type: ResourceType): readonly (SchemaSource & { required: boolean })[];
  /** The canonical URN when `key` names an extension of `type`, else undefined. */
  extensionUrn(type: ResourceType, key: string): string | undefined;
  /** Top-level attributes of a schema; empty for an unknown URN. */
  attributesOf(urn: string): readonly AttributeDefinition[];
  /**
   * Resolves `userName`, `name.givenName`, `emails.value` or `urn:…:User:attr.sub` for a type.
   * An unqualified name the core schema lacks is looked up in the type's extensions, in order.
   */
  resolve(type: ResourceType, attrPath: string): ResolvedAttribute | undefined;
}

/** The definition named `name` (case-insensitive) among `definitions`. */
export function findDefinition(definitions: readonly AttributeDefinition[] | undefined, name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return definitions?.find((definition) => definition.name.toLowerCase() === lower);
}

export function createSchemaRegistry(declared: readonly ExtensionConfig[] = []): SchemaRegistry {
  const extensionRequired = new Map<string, boolean>();
  const sources: SchemaSource[] = [...BUILT_IN_SCHEMA_SOURCES];
  for (const extension of declared) {
    sources.push(fromConfig(extension));
    extensionRequired.set(extension.id.toLowerCase(), extension.required);
  }
  const byUrn = new Map(sources.map((source) => [source.id.toLowerCase(), source]));
  const core = (type: ResourceType) => sources.find((s) => !s.extension && s.resourceType === type) as SchemaSource;
  const extensions = (type: ResourceType) =>
    sources.filter((s) => s.extension && s.resourceType === type).map((s) => ({ ...s, required: extensionRequired.get(s.id.toLowerCase()) ?? false }));
  const extensionsByType = { User: extensions('User'), Group: extensions('Group') };

  function resolveIn(source: SchemaSource, names: string[]): ResolvedAttribute | undefined {
    const [name, subName, ...more] = names;
    if (name === undefined || more.length > 0) return undefined;
    const attribute = findDefinition(source.attributes, name);
    if (!attribute) return undefined;
    if (subName === undefined) return { schema: source.id, extension: source.extension, attribute };
    const sub = findDefinition(attribute.subAttributes, subName);
    return sub ? { schema: source.id, extension: source.extension, attribute, sub } : undefined;
  }

  return {
    all: sources,
    get: (urn) => byUrn.get(urn.toLowerCase()),
    coreOf: core,
    extensionsOf: (type) => extensionsByType[type],
    extensionUrn(type, key) {
      const found = byUrn.get(key.toLowerCase());
      return found && found.extension && found.resourceType === type ? found.id : undefined;
    },
    attributesOf: (urn) => byUrn.get(urn.toLowerCase())?.attributes ?? [],
    resolve(type, attrPath) {
      if (/^urn:/i.test(attrPath)) {
        const colon = attrPath.lastIndexOf(':');
        const source = byUrn.get(attrPath.slice(0, colon).toLowerCase());
        if (!source || source.resourceType !== type) return undefined;
        return resolveIn(source, attrPath.slice(colon + 1).split('.'));
      }
      const names = attrPath.split('.');
      for (const source of [core(type), ...extensionsByType[type]]) {
        const found = resolveIn(source, names);
        if (found) return found;
      }
      return undefined;
    },
  };
}

/** The registry with only the built-in schemas (a connection that declares no extensions). */
export const BUILT_IN_SCHEMAS: SchemaRegistry = createSchemaRegistry();

function fromConfig(extension: ExtensionConfig): SchemaSource {
  return {
    id: extension.id,
    name: extension.name ?? extension.id.split(':').slice(-3).join(':'),
    description: extension.description ?? `Extension ${extension.id}`,
    resourceType: extension.resourceType,
    extension: true,
    attributes: extension.attributes.map(toDefinition),
  };
}

function toDefinition(attribute: ExtensionAttributeConfig | Omit<ExtensionAttributeConfig, 'subAttributes'>): AttributeDefinition {
  const definition: AttributeDefinition = {
    name: attribute.name,
    type: attribute.type,
    multiValued: attribute.multiValued,
    description: attribute.description ?? attribute.name,
    required: attribute.required,
    caseExact: attribute.caseExact,
    mutability: attribute.mutability,
    returned: 'default',
    uniqueness: 'none',
  };
  if (attribute.canonicalValues) definition.canonicalValues = attribute.canonicalValues;
  if (attribute.referenceTypes) definition.referenceTypes = attribute.referenceTypes;
  if ('subAttributes' in attribute && attribute.subAttributes) definition.subAttributes = attribute.subAttributes.map(toDefinition);
  return definition;
}
