// The tests' OpenAI-compatible server is the sandbox's own (src/sandbox/local-openai.ts).
export * from '../../src/sandbox/local-openai.js';
