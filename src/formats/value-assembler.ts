/**
 * Builds JSON values from stream-json tokens, one at a time and without recursion (a stack of open
 * containers), as our exact parser would give them: numbers a double would change stay
 * ExactNumber, a `__proto__` key is an own property. An optional hook sees every object once it is
 * complete and may replace it (a tagged value decoded into plain JSON).
 */
import type { JsonValue } from '../types.js';
import { numberFromText } from './exact-number.js';
import type { Token } from './json-tokens.js';

type Container = JsonValue[] | { [key: string]: JsonValue };

export class ValueAssembler {
  private readonly stack: Container[] = [];
  private readonly keys: (string | undefined)[] = [];
  private key: string | undefined;
  /** True once `value` holds a complete value; the next token starts another. */
  done = false;
  value: JsonValue = null;

  constructor(private readonly onObject?: (object: { [key: string]: JsonValue }) => JsonValue) {}

  /** Open containers: 0 between values. */
  get depth(): number {
    return this.stack.length;
  }

  consume(token: Token): void {
    this.done = false;
    switch (token.name) {
      case 'startObject':
      case 'startArray':
        this.keys.push(this.key);
        this.key = undefined;
        this.stack.push(token.name === 'startArray' ? [] : {});
        return;
      case 'endObject':
      case 'endArray': {
        let value: JsonValue = this.stack.pop()!;
        this.key = this.keys.pop();
        if (token.name === 'endObject' && this.onObject) value = this.onObject(value as { [key: string]: JsonValue });
        return this.save(value);
      }
      case 'keyValue':
        this.key = token.value;
        return;
      case 'stringValue':
        return this.save(token.value);
      case 'numberValue':
        return this.save(numberFromText(token.value));
      case 'nullValue':
        return this.save(null);
      case 'trueValue':
        return this.save(true);
      case 'falseValue':
        return this.save(false);
    }
  }

  private save(value: JsonValue): void {
    const parent = this.stack[this.stack.length - 1];
    if (!parent) {
      this.value = value;
      this.done = true;
    } else if (Array.isArray(parent)) {
      parent.push(value);
    } else if (this.key === '__proto__') {
      // A plain assignment of "__proto__" would replace the prototype instead of adding a property.
      Object.defineProperty(parent, this.key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      parent[this.key!] = value;
    }
  }
}
