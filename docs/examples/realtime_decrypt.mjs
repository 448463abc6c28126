// Decrypt one Cove realtime event in a browser (or Node 20+) with WebCrypto.
// envelope: {keyId, seq, nonce, ciphertext} as received; secret: the key's base64 secret.

const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export async function decryptEvent(secret, sessionId, envelope) {
  const key = await crypto.subtle.importKey(
    "raw", fromBase64(secret), { name: "AES-GCM" }, false, ["decrypt"],
  );
  const plaintext = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: fromBase64(envelope.nonce),
      additionalData: new TextEncoder().encode(`${sessionId}:${envelope.seq}`),
      tagLength: 128,
    },
    key,
    fromBase64(envelope.ciphertext), // ciphertext followed by the 16-byte tag
  );
  return JSON.parse(new TextDecoder().decode(plaintext));
}

// In a page: keep keys by id; on an event whose keyId you lack, call the realtimeKey
// mutation over HTTPS, store the secret, then decrypt. Check that seq grows by one.
