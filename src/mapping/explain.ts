import type { ResourceType } from '../scim/types.js';
import type { ActionKind, CompiledCall, CompiledField, CompiledMapping, CompiledSection } from './compile.js';

/**
 * `scim-bridge explain`: a compiled mapping in words. Which SCIM attribute feeds each target
 * field, and which calls each kind of change causes, in the order the worker makes them
 * (delivery/plan.ts). Pure: text from the compiled mapping.
 */

export function explainMapping(mapping: CompiledMapping): string {
  const out: string[] = [`mapping ${mapping.name} (${mapping.file})`];
  for (const type of ['User', 'Group'] as ResourceType[]) {
    const section = mapping.sections.get(type);
    out.push('');
    if (!section) {
      out.push(`${type === 'User' ? 'users' : 'groups'}: not delivered (stored by the bridge only)`);
      if (type === 'Group' && mapping.sections.get('User')?.usesGroups) {
        out.push('  group changes still re-deliver their members: users.fields read groups');
      }
      continue;
    }
    out.push(...explainSection(type, section));
  }
  return `${out.join('\n')}\n`;
}

function explainSection(type: ResourceType, section: CompiledSection): string[] {
  const out = [`${section.key}:`, '  fields (target field ← SCIM):'];
  if (section.fields.length === 0) out.push('    (none)');
  const width = Math.min(28, Math.max(...section.fields.map((field) => field.name.length), 0));
  for (const field of section.fields) out.push(`    ${field.name.padEnd(width)} ← ${describeField(field)}`);
  if (section.rules.length > 0) {
    out.push('  rejected at the SCIM door (validate):');
    for (const rule of section.rules) out.push(`    unless ${rule.expression.source}: "${rule.detail}"`);
  }
  out.push('  changes (→ calls, in order):');
  const calls = (kind: ActionKind) => section.calls.get(kind) ?? [];
  const has = (kind: ActionKind) => calls(kind).length > 0;
  const noun = type === 'User' ? 'user' : 'group';
  const created = has('lookup') ? `${describeCalls('lookup', calls('lookup'))}; if nothing found: ${describeCalls('create', calls('create'))}` : describeCalls('create', calls('create'));
  out.push(`    new ${noun} → ${created}`);
  if (type === 'User' && has('deactivate')) out.push(`      created inactive → then ${describeCalls('deactivate', calls('deactivate'))}`);
  out.push(`    mapped fields change → ${has('update') ? describeCalls('update', calls('update')) : 'nothing (no update call)'}`);
  if (type === 'User') {
    if (has('deactivate')) {
      out.push(`    active → false → ${describeCalls('deactivate', calls('deactivate'))} (after the update)`);
      out.push(`    active → true → ${describeCalls('reactivate', calls('reactivate'))} (before the update)`);
    } else {
      out.push('    active changes → carried by update, if a field maps active');
    }
  }
  const removal = has('delete') ? describeCalls('delete', calls('delete')) : has('deactivate') ? describeCalls('deactivate', calls('deactivate')) : 'nothing in the target';
  out.push(`    deleted → ${removal}`);
  if (type === 'Group') {
    const { chunkSize, callsPerJob } = section.memberLimits;
    const chunked = ` (one call per ${chunkSize} members)`;
    const added = has('addMembers') ? `${describeCalls('addMembers', calls('addMembers'))}${chunked}` : has('addMember') ? describeCalls('addMember', calls('addMember')) : 'nothing';
    const removed = has('removeMembers') ? `${describeCalls('removeMembers', calls('removeMembers'))}${chunked}` : has('removeMember') ? describeCalls('removeMember', calls('removeMember')) : 'nothing';
    out.push(`    member added → ${added} (once the member has a target id)`);
    out.push(`    member removed → ${removed}`);
    if (has('addMember') || has('removeMember') || has('addMembers') || has('removeMembers')) {
      out.push(`      at most ${callsPerJob} member calls per job; more go on in a follow-up job`);
    }
  }
  const refs = section.fields.filter((field) => field.ref);
  if (refs.length > 0) {
    out.push(`    referenced ${refs.map((field) => `${field.ref} (${field.name})`).join(', ')} not in the target yet → wait, deliver once it is`);
    out.push('    referenced resource linked or deleted → delivered again');
  }
  if (section.usesGroups) out.push('    group membership, group name or group deleted → delivered again (fields read groups)');
  return out;
}

function describeField(field: CompiledField): string {
  let text: string;
  switch (field.source.kind) {
    case 'from':
      text = field.source.path;
      break;
    case 'expr':
      text = `JSONata ${field.source.expression.source}`;
      break;
    case 'value':
      text = `constant ${JSON.stringify(field.source.value)}`;
      break;
    case 'groups':
      text = `groups by ${field.source.match}: ${field.source.table.map((row) => `${JSON.stringify(row.value)} if in ${row.names.join(' / ')}`).join('; else ')}`;
      break;
  }
  const extras: string[] = [];
  if (field.map) extras.push(`mapped ${Object.entries(field.map).map(([from, to]) => `${from}→${JSON.stringify(to)}`).join(', ')}`);
  if (field.hasDefault) extras.push(`default ${JSON.stringify(field.default)}`);
  if (field.ref) extras.push(`sent as the ${field.ref}'s target id`);
  if (field.type) extras.push(`as ${field.type}`);
  if (field.when) extras.push(`only when ${field.when.source}`);
  if (field.omitIfEmpty) extras.push('left out when empty');
  return extras.length > 0 ? `${text} (${extras.join('; ')})` : text;
}

function describeCalls(kind: ActionKind, calls: CompiledCall[]): string {
  const event = (call: CompiledCall) => /\.webhook\.(\w+)$/.exec(call.where)?.[1];
  const one = (call: CompiledCall) =>
    `${call.method} ${call.path.source}${event(call) ? ` (webhook event ${event(call)})` : ''}${call.when ? ` [when ${call.when.source}]` : ''}`;
  return `${kind} ${calls.map(one).join(', then ')}`;
}
