// Package crypt encrypts hookd's secrets at rest: endpoint signing keys, custom header
// values and every other credential a store keeps are sealed with AES-256-GCM before
// they are written, and opened when read.
//
// Values are sealed under data keys, and the data keys are kept in the database
// themselves, sealed ("wrapped") under the main key the operator holds
// (--encryption-key or a key file). Rotating the main key (Rotate, `hookd rotate-key`)
// re-wraps the data keys under the new main key, adds a new data key and re-seals every
// value under it; nodes that run meanwhile learn the new data key from the database,
// so they keep reading and writing throughout, and a node that starts afterwards needs
// the new main key.
package crypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// KeySize is the size of main and data keys: AES-256.
const KeySize = 32

// KeyringSetting is the setting that holds the wrapped data keys.
const KeyringSetting = "keyring"

// sealedPrefix starts every sealed value; values without it are plain text written
// before encryption was on, which Open returns as they are.
const sealedPrefix = "hkenc1:"

// ErrWrongKey means the main key does not open the database's data keys.
var ErrWrongKey = errors.New("wrong encryption key")

// Key is a main key.
type Key [KeySize]byte

// NewKey returns a random main key.
func NewKey() Key {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		panic("crypt: read random bytes: " + err.Error())
	}
	return k
}

// ParseKey reads a main key written as base64 (standard or URL alphabet, padded or
// not) or as 64 hex digits.
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	switch {
	case len(s) == 2*KeySize:
		b, err = hex.DecodeString(s)
	default:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil || len(b) != KeySize {
		return k, errors.New("an encryption key is 32 bytes written as base64 (44 characters) or hex (64 digits); make one with: openssl rand -base64 32")
	}
	copy(k[:], b)
	return k, nil
}

// String returns the key as base64, the form ParseKey reads and key files hold.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// ID is a fingerprint of the key that says which key something is under without
// revealing it.
func (k Key) ID() string {
	sum := sha256.Sum256(append([]byte("hookd main key\x00"), k[:]...))
	return "mk_" + hex.EncodeToString(sum[:6])
}

// stored is the keyring setting: the data keys wrapped under each main key that may
// open them (two during a rotation, else one).
type stored struct {
	Current string            `json:"current"`
	Wraps   map[string]string `json:"wraps"`
}

// Keyring seals and opens values with the data keys of one database. It implements
// hookd.Sealer.
type Keyring struct {
	settings hookd.SettingStore
	main     Key
	now      hookd.Clock

	mu       sync.RWMutex
	keys     map[string]cipher.AEAD
	raw      map[string][]byte
	current  string
	loadedAt time.Time
	stale    bool // the database no longer holds a wrap for main

	// missMu serialises reloads for unknown data keys; missID was not found at missAt.
	missMu sync.Mutex
	missID string
	missAt time.Time
}

var _ hookd.Sealer = (*Keyring)(nil)

// Load opens the keyring of the database behind settings with main. On a database
// without one, create makes it; otherwise Load fails. A main key that does not open
// the keyring is ErrWrongKey.
func Load(ctx context.Context, settings hookd.SettingStore, main Key, create bool) (*Keyring, error) {
	k := &Keyring{settings: settings, main: main, now: time.Now}
	raw, err := settings.Setting(ctx, KeyringSetting)
	if hookd.IsNotFound(err) {
		if !create {
			return nil, errors.New("the database has no encryption keyring yet (start hookd serve on it once)")
		}
		raw, err = k.create(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if err := k.load(raw); err != nil {
		return nil, err
	}
	return k, nil
}

// Exists reports whether the database behind settings has a keyring, that is,
// whether its secrets are encrypted.
func Exists(ctx context.Context, settings hookd.SettingStore) (bool, error) {
	_, err := settings.Setting(ctx, KeyringSetting)
	if hookd.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (k *Keyring) create(ctx context.Context) (string, error) {
	id, dk := newDataKey()
	s, err := wrapKeys(map[string][]byte{id: dk}, id, k.main)
	if err != nil {
		return "", err
	}
	// Nodes starting at once agree on the first one written.
	return k.settings.PutSettingIfAbsent(ctx, KeyringSetting, s)
}

func newDataKey() (string, []byte) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic("crypt: read random bytes: " + err.Error())
	}
	var idb [6]byte
	if _, err := rand.Read(idb[:]); err != nil {
		panic("crypt: read random bytes: " + err.Error())
	}
	return "dk_" + hex.EncodeToString(idb[:]), b
}

// wrapKeys returns the keyring setting holding keys, wrapped under each of mains.
func wrapKeys(keys map[string][]byte, current string, mains ...Key) (string, error) {
	plain, err := json.Marshal(keys)
	if err != nil {
		return "", err
	}
	st := stored{Current: current, Wraps: map[string]string{}}
	for _, m := range mains {
		aead, err := newAEAD(m[:])
		if err != nil {
			return "", err
		}
		st.Wraps[m.ID()] = base64.StdEncoding.EncodeToString(seal(aead, plain, []byte(m.ID())))
	}
	b, err := json.Marshal(st)
	return string(b), err
}

// unwrap returns the data keys of a keyring setting, opened with main.
func unwrap(raw string, main Key) (stored, map[string][]byte, error) {
	var st stored
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, nil, fmt.Errorf("decode keyring: %w", err)
	}
	w, ok := st.Wraps[main.ID()]
	if !ok {
		have := make([]string, 0, len(st.Wraps))
		for id := range st.Wraps {
			have = append(have, id)
		}
		return st, nil, fmt.Errorf("%w: the database's secrets are under main key %s, not %s (the key given)", ErrWrongKey, strings.Join(have, " or "), main.ID())
	}
	ct, err := base64.StdEncoding.DecodeString(w)
	if err != nil {
		return st, nil, fmt.Errorf("decode keyring: %w", err)
	}
	aead, err := newAEAD(main[:])
	if err != nil {
		return st, nil, err
	}
	plain, err := open(aead, ct, []byte(main.ID()))
	if err != nil {
		return st, nil, fmt.Errorf("%w: the keyring does not open with main key %s", ErrWrongKey, main.ID())
	}
	var keys map[string][]byte
	if err := json.Unmarshal(plain, &keys); err != nil {
		return st, nil, fmt.Errorf("decode keyring: %w", err)
	}
	if _, ok := keys[st.Current]; !ok {
		return st, nil, fmt.Errorf("decode keyring: current data key %s missing", st.Current)
	}
	return st, keys, nil
}

func (k *Keyring) load(raw string) error {
	st, keys, err := unwrap(raw, k.main)
	if err != nil {
		return err
	}
	aeads := make(map[string]cipher.AEAD, len(keys))
	for id, b := range keys {
		if aeads[id], err = newAEAD(b); err != nil {
			return err
		}
	}
	k.mu.Lock()
	k.keys, k.raw, k.current, k.loadedAt, k.stale = aeads, keys, st.Current, k.now(), false
	k.mu.Unlock()
	return nil
}

// refreshEvery bounds how often one unknown data key makes Open reload the keyring.
const refreshEvery = 100 * time.Millisecond

// Refresh reloads the keyring from the database, to learn a data key another node
// (a rotation) added. Once the database holds no wrap for this keyring's main key any
// more (a rotation finished), Refresh keeps the keys it has and reports ErrWrongKey:
// this node goes on working until it restarts, and then needs the new main key.
func (k *Keyring) Refresh(ctx context.Context) error {
	raw, err := k.settings.Setting(ctx, KeyringSetting)
	if err != nil {
		return fmt.Errorf("read keyring: %w", err)
	}
	err = k.load(raw)
	if errors.Is(err, ErrWrongKey) {
		k.mu.Lock()
		k.stale, k.loadedAt = true, k.now()
		k.mu.Unlock()
	}
	return err
}

// Watch refreshes the keyring every interval until ctx ends, calling onStale once
// when the database's keys have been rotated to another main key.
func (k *Keyring) Watch(ctx context.Context, interval time.Duration, onStale func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.Refresh(ctx); errors.Is(err, ErrWrongKey) && !warned && onStale != nil {
			warned = true
			onStale(err)
		}
	}
}

// Seal encrypts plain under the current data key. The empty string stays empty.
func (k *Keyring) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	k.mu.RLock()
	id, aead := k.current, k.keys[k.current]
	k.mu.RUnlock()
	ct := seal(aead, []byte(plain), []byte(id))
	return sealedPrefix + id + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value Seal made. A value that is not sealed is returned as it is:
// it was written before encryption was turned on, and the start-up migration seals it.
func (k *Keyring) Open(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return s, nil
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("open secret: malformed sealed value")
	}
	ct, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return "", errors.New("open secret: malformed sealed value")
	}
	aead, err := k.key(id)
	if err != nil {
		return "", err
	}
	plain, err := open(aead, ct, []byte(id))
	if err != nil {
		return "", fmt.Errorf("open secret: data key %s does not open it (corrupt value)", id)
	}
	return string(plain), nil
}

// key returns the data key id, reloading the keyring if it is unknown (another node
// added it during a rotation). An id still unknown after a reload is not looked up
// again for refreshEvery.
func (k *Keyring) key(id string) (cipher.AEAD, error) {
	k.mu.RLock()
	aead, ok := k.keys[id]
	k.mu.RUnlock()
	if ok {
		return aead, nil
	}
	k.missMu.Lock()
	defer k.missMu.Unlock()
	k.mu.RLock()
	aead, ok = k.keys[id]
	k.mu.RUnlock()
	if ok {
		return aead, nil
	}
	if id != k.missID || k.now().Sub(k.missAt) >= refreshEvery {
		_ = k.Refresh(context.Background())
		k.mu.RLock()
		aead, ok = k.keys[id]
		k.mu.RUnlock()
		if ok {
			return aead, nil
		}
		k.missID, k.missAt = id, k.now()
	}
	return nil, fmt.Errorf("open secret: unknown data key %s (the keyring was rotated under another main key)", id)
}

// IsCurrent reports whether s is sealed under the current data key, so a rotation
// can skip it.
func (k *Keyring) IsCurrent(s string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return s == "" || strings.HasPrefix(s, sealedPrefix+k.current+":")
}

// MainKeyID returns the fingerprint of the main key the keyring was opened with.
func (k *Keyring) MainKeyID() string { return k.main.ID() }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns nonce || ciphertext.
func seal(aead cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypt: read random bytes: " + err.Error())
	}
	return aead.Seal(nonce, nonce, plain, ad)
}

func open(aead cipher.AEAD, ct, ad []byte) ([]byte, error) {
	if len(ct) < aead.NonceSize() {
		return nil, errors.New("short ciphertext")
	}
	return aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], ad)
}
