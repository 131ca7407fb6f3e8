// Worker threads start without the parent's tsx loader: register it, then run the TypeScript entry.
import { register } from 'tsx/esm/api';
register();
await import('./parallel-worker.ts');
