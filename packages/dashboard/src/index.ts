export * from './dashboard-server.js';
export { Board, type BoardUpdate } from './board.js';
export { ReadGate } from './read-gate.js';
export { ChangesFeed } from './changes-feed.js';
