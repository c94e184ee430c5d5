import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionsError } from '@tributary/core';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ProducerOptionsError, type StreamsErrorCode } from '../../src/index.js';

// StreamsErrorCode is the list users match codes against: every code a module of the package puts
// in an error or a failed record (a `code:` property with a literal value) must be in it.

const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceOf(file: string): ts.SourceFile {
  const full = path.join(srcDir, file);
  return ts.createSourceFile(full, fs.readFileSync(full, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The string literals of `type <name> = 'A' | 'B' | ...` in errors.ts. */
function unionMembers(name: string): string[] {
  const members: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTypeAliasDeclaration(node) && node.name.text === name) {
      const collect = (type: ts.Node): void => {
        if (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal)) members.push(type.literal.text);
        ts.forEachChild(type, collect);
      };
      collect(node.type);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceOf('errors.ts'));
  return members;
}

/**
 * Every `CODE_LIKE` string literal in the value of a `code:` property or in the code argument of
 * `optionChecks(owner, code)`, by file.
 */
function codeLiterals(): { file: string; code: string }[] {
  const found: { file: string; code: string }[] = [];
  for (const file of fs.readdirSync(srcDir).filter((name) => name.endsWith('.ts'))) {
    const collect = (value: ts.Node): void => {
      if (ts.isStringLiteralLike(value) && /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(value.text)) {
        found.push({ file, code: value.text });
      }
      ts.forEachChild(value, collect);
    };
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'code') {
        collect(node.initializer);
      }
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'optionChecks' &&
        node.arguments[1] !== undefined
      ) {
        collect(node.arguments[1]);
      }
      ts.forEachChild(node, visit);
    };
    visit(sourceOf(file));
  }
  return found;
}

describe('StreamsErrorCode', () => {
  it('holds every code that a module of the package sets', () => {
    const union = new Set(unionMembers('StreamsErrorCode'));
    const literals = codeLiterals();

    expect(literals.map(({ code }) => code)).toEqual(
      expect.arrayContaining(['PRODUCER_OPTIONS_INVALID', 'PRODUCER_CLOSED', 'CHECKPOINT_FAILED']),
    );
    expect(literals.filter(({ code }) => !union.has(code))).toEqual([]);
  });

  it('spells options errors <AREA>_OPTIONS_INVALID and bad data <THING>_INVALID', () => {
    const codes = unionMembers('StreamsErrorCode');

    expect(codes).toContain('PRODUCER_OPTIONS_INVALID');
    expect(codes.filter((code) => /INVALID_|_INVALID_OPTIONS$/.test(code))).toEqual([]);
    expectTypeOf<'PRODUCER_OPTIONS_INVALID'>().toExtend<StreamsErrorCode>();
    expectTypeOf<'PRODUCER_INVALID_OPTIONS'>().not.toExtend<StreamsErrorCode>();
  });
});

describe('ProducerOptionsError', () => {
  it("is core's OptionsError with PRODUCER_OPTIONS_INVALID, and matches every error with that code only", () => {
    const own = new ProducerOptionsError('KinesisProducer option streamName must be a name', 'streamName');
    const producers = new OptionsError('x', { code: 'PRODUCER_OPTIONS_INVALID', option: 'maxAgeMs' });
    const source = new OptionsError('x', { code: 'SOURCE_OPTIONS_INVALID', option: 'streamName' });

    expect(own).toBeInstanceOf(OptionsError);
    expect(own).toMatchObject({ code: 'PRODUCER_OPTIONS_INVALID', option: 'streamName' });
    expect(producers).toBeInstanceOf(ProducerOptionsError);
    expect(source).not.toBeInstanceOf(ProducerOptionsError);
    expect(new Error('PRODUCER_OPTIONS_INVALID')).not.toBeInstanceOf(ProducerOptionsError);
  });
});
