import { afterAll, describe, expect, it } from 'vitest';
import { captureCommands, parseMonitorLine } from '../../bench/lib/redis-monitor.js';
import { createTestRedis } from '../helpers/redis.js';

// The front-door-kinds floor replays what MONITOR saw: the bytes must be the bytes sent.
describe('captureCommands (bench)', () => {
  const t = createTestRedis('monitor');
  afterAll(() => t.cleanup());

  it('gives back binary and quoted arguments byte for byte, script calls without the commands they run', async () => {
    const value = Buffer.from([0, 1, 2, 0x22, 0x5c, 10, 13, 9, 7, 8, 0x7f, 0x80, 0xff, 0x20, 0x41]);
    const key = `${t.prefix}:k`;
    const commands = await captureCommands(t.url, async () => {
      await t.redis.set(key, value);
      await t.redis.eval("return redis.call('GET', KEYS[1])", 1, key);
    });
    // The server is shared with other test files: keep this test's own commands.
    const mine = commands.filter((c) => c.some((arg) => arg.toString('latin1') === key));
    expect(mine.map((c) => c[0]!.toString().toLowerCase())).toEqual(['set', 'eval']);
    expect(Buffer.compare(mine[0]![2]!, value)).toBe(0);
    expect(mine[1]![1]!.toString()).toBe("return redis.call('GET', KEYS[1])");
  });

  it('parses a MONITOR line with escapes in one pass', () => {
    const args = parseMonitorLine('+1700000000.123456 [0 127.0.0.1:5000] "set" "a\\"b" "\\x00\\xff\\n"');
    expect(args.map((a) => [...a])).toEqual([[...Buffer.from('set')], [...Buffer.from('a"b')], [0, 0xff, 10]]);
  });
});
