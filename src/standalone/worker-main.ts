/** The standalone binary's data-plane thread: the prelude (where the addon is), then the engine's worker. */
import './worker-prelude.js';
import '../engine/worker.js';
