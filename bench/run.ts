/**
 * `npm run bench [-- name...]`: runs each benchmark module in turn. Every module prints its own
 * figures with ratios against a baseline measured in the same run.
 */
const all = ['file', 'dynamodb', 'couchdb', 'workers', 'follow'] as const;
const chosen = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = chosen.length ? chosen : all;

for (const name of names) {
  if (!(all as readonly string[]).includes(name)) {
    console.error(`unknown benchmark "${name}": known are ${all.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const mod = (await import(`./${name}.ts`)) as { default: () => Promise<void> };
  await mod.default();
}
