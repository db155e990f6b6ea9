export * from './embedded-server.js';
