package hookd

// Sealer encrypts secrets for storage and decrypts them when read: endpoint signing
// keys, custom header values, and every credential a store keeps (client keys, OAuth
// client secrets, …). The crypt package implements it with AES-256-GCM under the
// operator's main key; crypt.Store applies it to every secret field a Store reads or
// writes, so a new secret field is added there, next to the others.
type Sealer interface {
	// Seal returns plain encrypted; "" stays "".
	Seal(plain string) (string, error)
	// Open returns the plain text of a value Seal made. A value that was never sealed
	// (written before encryption was on) is returned unchanged.
	Open(sealed string) (string, error)
}
