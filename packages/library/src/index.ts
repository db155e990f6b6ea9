/**
 * picas as a typed library: connect with the layered configuration, push tokens from an iterable, read the
 * pool's status, and run a pilot in-process whose work is a JavaScript function. (Being written: see
 * issue [6 of 6].)
 */
export { AUTOSCALER_DOC_ID } from '@picas/core';
