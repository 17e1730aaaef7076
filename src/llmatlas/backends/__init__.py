"""Model backends (llama, hf, openai, anthropic, mock); this release ships the embedded-model locator."""
