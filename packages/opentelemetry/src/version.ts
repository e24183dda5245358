/** This package's version, the version of its meter. */
export const VERSION = '0.1.0';
