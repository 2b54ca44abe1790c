import { describe, expect, it } from 'vitest';
import { compileExpression, EXPRESSION_BUDGET, type CompileProblem } from '../../src/mapping/compile.js';

/**
 * Mapping expressions (validate rules included) run on what Entra sent, so a runaway one is
 * stopped by a time and depth budget rather than holding the process.
 */

function compiled(source: string) {
  const problems: CompileProblem[] = [];
  const expression = compileExpression(source, ['expr'], problems);
  expect(problems).toEqual([]);
  return expression!;
}

describe('expression budget', () => {
  it('stops unbounded recursion with D1011', async () => {
    const expression = compiled('( $f := function($n) { 1 + $f($n + 1) }; $f(0) )');
    await expect(expression.evaluate({})).rejects.toMatchObject({ code: 'D1011' });
  });

  it('stops a long-running evaluation with D1012 after the time budget', async () => {
    // Growing an array by concatenation is quadratic: far past the budget without it.
    const expression = compiled('$reduce([1..1000000], function($acc, $n) { $append($acc, $n) }, [])');
    await expect(expression.evaluate({})).rejects.toMatchObject({ code: 'D1012', value: EXPRESSION_BUDGET.timeout });
  });

  it('leaves normal expressions alone, even over a large input', async () => {
    const emails = Array.from({ length: 200 }, (_, i) => ({ type: 'work', value: `u${i}@example.com` }));
    const expression = compiled('$count(emails[type = "work"].value) & " " & $contains(userName, "@")');
    await expect(expression.evaluate({ userName: 'a@b.c', emails })).resolves.toBe("200 true");
  });
});
