/** Child process of bench/file.ts: runs file → null once and prints its peak RSS (KiB). */
import { migrate } from '../src/pipeline.js';

const report = await migrate({ from: `file:${process.argv[2]}`, to: 'null' });
console.log(`docs=${report.total.read} maxRSS=${process.resourceUsage().maxRSS}`);
