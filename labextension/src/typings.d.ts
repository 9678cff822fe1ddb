/** The bundler resolves `require` of our own package.json (for the version handshake). */
declare function require(id: '../package.json'): { version: string };
