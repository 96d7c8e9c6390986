import memorySink from '../src/sinks/memory.js';
import memorySource from '../src/sources/memory.js';
import { describeConformance } from './conformance.js';
import { testAdapterOptions } from './helpers.js';

const uri = { scheme: 'memory', rest: 'conformance', raw: 'memory:conformance' };
describeConformance('memory', {
  sink: async (o) => memorySink(uri, testAdapterOptions(o)),
  source: async (o) => memorySource(uri, testAdapterOptions(o)),
});
