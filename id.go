package hookd

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"strings"
	"time"
)

// ID prefixes, as the Svix API uses them.
const (
	PrefixApp      = "app_"
	PrefixEndpoint = "ep_"
	PrefixMessage  = "msg_"
	PrefixAttempt  = "atmpt_"
	PrefixDelivery = "dlv_"
	PrefixTask     = "qtask_"
)

// idAlphabet is in ASCII order so that fixed-width encodings sort like the numbers.
const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idLen is the width of the base62 part: 62^22 > 2^128.
const idLen = 22

// IDGen makes prefixed IDs that sort by creation time (48 bits of milliseconds) and
// cannot be guessed (80 random bits).
type IDGen struct {
	// Now is the clock; nil means time.Now.
	Now Clock
	// Rand is the randomness source; nil means crypto/rand.
	Rand io.Reader
}

// New returns a new ID with the given prefix, such as "msg_".
func (g IDGen) New(prefix string) string {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	r := g.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	ms := uint64(now().UnixMilli())
	binary.BigEndian.PutUint64(b[0:8], ms<<16)
	if _, err := io.ReadFull(r, b[6:]); err != nil {
		panic("hookd: read random bytes: " + err.Error())
	}
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		// Divide the 128-bit number hi:lo by 62, keeping the remainder.
		qhi := hi / 62
		r1 := hi % 62
		// (r1<<64 + lo) / 62 without overflow: split lo into two 32-bit halves.
		x := r1<<32 | lo>>32
		q1 := x / 62
		r2 := x % 62
		y := r2<<32 | lo&0xffffffff
		q2 := y / 62
		rem := y % 62
		hi, lo = qhi, q1<<32|q2
		out[i] = idAlphabet[rem]
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + idLen)
	sb.WriteString(prefix)
	sb.Write(out[:])
	return sb.String()
}

// IDTime returns the creation time encoded in an ID made by IDGen, and false if id is
// not such an ID.
func IDTime(id string) (time.Time, bool) {
	i := strings.IndexByte(id, '_')
	if i < 0 || len(id)-i-1 != idLen {
		return time.Time{}, false
	}
	var hi, lo uint64
	for _, c := range []byte(id[i+1:]) {
		d := strings.IndexByte(idAlphabet, c)
		if d < 0 {
			return time.Time{}, false
		}
		// hi:lo = hi:lo*62 + d
		loHi, loLo := mul64(lo, 62)
		hi = hi*62 + loHi
		lo = loLo + uint64(d)
		if lo < loLo {
			hi++
		}
	}
	return time.UnixMilli(int64(hi >> 16)), true
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask32 + a0*b1
	hi = a1*b1 + t>>32 + w1>>32
	lo = a * b
	return
}

// IDAt returns the smallest ID with the given prefix that IDGen could make at t. It lets
// lists filter by time with a plain comparison on the ID column.
func IDAt(prefix string, t time.Time) string {
	zero := IDGen{Now: func() time.Time { return t }, Rand: zeroReader{}}
	return zero.New(prefix)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
	}
	return len(p), nil
}
