import { rawMode } from './exact-number.js';

// A marker no real document contains: ExactNumber.toJSON returns it wrapped around the digits,
// and the quoted marker is then replaced by the bare digits. Random per process, so a crafted
// document cannot forge one.
const token = `exact-number-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}:`;
const markerPattern = new RegExp(`"${token}([^"]*)"`, 'g');

/**
 * JSON.stringify that writes ExactNumber values with their original digits. Costs nothing extra
 * for documents without one: the replacement pass runs only when a marker was emitted.
 */
export function stringifyExact(value: unknown, indent?: number): string {
  let marked = false;
  rawMode.active = true;
  rawMode.mark = (text) => {
    marked = true;
    return token + text;
  };
  let out: string;
  try {
    out = JSON.stringify(value, null, indent);
  } finally {
    rawMode.active = false;
  }
  return marked ? out.replace(markerPattern, '$1') : out;
}
