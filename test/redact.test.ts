import { expect, test } from 'vitest';
import { redact, redactUrl, registerSecret } from '../src/util/redact.js';

test('URL passwords are masked whatever their length', () => {
  expect(redactUrl('cannot reach couchdb://admin:pw@db:5984/agents')).toBe('cannot reach couchdb://admin:***@db:5984/agents');
  expect(redactUrl('https://u:p%40ss@host/x and http://x:y@z')).toBe('https://u:***@host/x and http://x:***@z');
});

test('registered secrets are masked anywhere, also URL-encoded; short ones only in URLs', () => {
  registerSecret('wJalrXUtnFEMI/K7MDENG');
  registerSecret('demo');
  expect(redact('key wJalrXUtnFEMI/K7MDENG and wJalrXUtnFEMI%2FK7MDENG')).toBe('key *** and ***');
  expect(redact('wrote file:demo-output/backup.json')).toBe('wrote file:demo-output/backup.json');
});
