/**
 * Secrets never reach logs, errors, reports, checkpoints or dead-letter files. Every message that
 * may carry a URL or a configured secret passes through here.
 */
const secrets = new Set<string>();

/**
 * Shorter secrets are masked only where URLs carry them: masking every `demo` or `admin` in free text
 * would mangle paths and commands users copy (`file:demo-output/…`), and such a password is no
 * secret worth the name anyway.
 */
const minimumMaskedLength = 8;

/** Registers a value (a password, an AWS secret key, a token) to be masked wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= minimumMaskedLength) secrets.add(value);
}

/** `scheme://user:pass@host` → `scheme://user:***@host`. */
export function redactUrl(url: string): string {
  return url.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/gi, '$1:***@');
}

/** Masks URL passwords and every registered secret in a message. */
export function redact(text: string): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join('***');
  }
  return out;
}
