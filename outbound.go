package hookd

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ClientCert is the TLS client certificate hookd presents to an endpoint (mutual
// TLS). KeyPEM is a secret: it is encrypted at rest and never shown by the API.
type ClientCert struct {
	// CertPEM is the certificate, then any intermediates, PEM-encoded.
	CertPEM string
	// KeyPEM is the certificate's private key, PEM-encoded.
	KeyPEM string
}

// ParseClientIdentity splits a PEM identity (a private key and its certificate chain,
// in any order) into a ClientCert, checking that the key matches the first
// certificate. It returns that certificate, parsed.
func ParseClientIdentity(identity string) (*ClientCert, *x509.Certificate, error) {
	var certs, keys []string
	rest := []byte(identity)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certs = append(certs, string(pem.EncodeToMemory(b)))
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if strings.Contains(b.Type, "ENCRYPTED") || b.Headers["Proc-Type"] != "" {
				return nil, nil, errors.New("the private key is encrypted; give it unencrypted")
			}
			keys = append(keys, string(pem.EncodeToMemory(b)))
		default:
			return nil, nil, fmt.Errorf("unexpected PEM block %q; want a private key and certificates", b.Type)
		}
	}
	if len(certs) == 0 || len(keys) != 1 {
		return nil, nil, fmt.Errorf("want one PEM private key and at least one certificate, got %d and %d", len(keys), len(certs))
	}
	cc := &ClientCert{CertPEM: strings.Join(certs, ""), KeyPEM: keys[0]}
	pair, err := cc.TLS()
	if err != nil {
		return nil, nil, err
	}
	return cc, pair.Leaf, nil
}

// TLS returns the certificate and key as a tls.Certificate, its Leaf parsed.
func (c *ClientCert) TLS() (tls.Certificate, error) {
	pair, err := tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM))
	if err != nil {
		return pair, fmt.Errorf("invalid client certificate or key: %w", err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return pair, fmt.Errorf("invalid client certificate: %w", err)
		}
	}
	return pair, nil
}

// Leaf returns the client certificate itself, parsed.
func (c *ClientCert) Leaf() (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(c.CertPEM))
	if b == nil {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// ParseCertPool parses a PEM bundle of CA certificates, returning the pool and the
// certificates; a bundle with none is an error.
func ParseCertPool(bundle string) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	rest := []byte(bundle)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("unexpected PEM block %q; want certificates", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid certificate: %w", err)
		}
		pool.AddCert(c)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("no PEM certificate")
	}
	return pool, certs, nil
}

// CertExpiryWarning is how long before its client certificate expires an endpoint
// gets the endpoint.mtls.expiring operational event.
const CertExpiryWarning = 14 * 24 * time.Hour

// OAuthClient is an endpoint's OAuth 2.0 client-credentials configuration (RFC 6749
// section 4.4): hookd fetches a token from TokenURL and sends it as a bearer token.
// ClientSecret is a secret: encrypted at rest, never shown by the API.
type OAuthClient struct {
	TokenURL string
	ClientID string
	// ClientSecret authenticates hookd to the token server, as AuthMethod says.
	ClientSecret string
	// AuthMethod is OAuthBasic (HTTP Basic, the default) or OAuthPost (in the body).
	AuthMethod string
	Scopes     []string
	// Audience, if set, is sent as the audience parameter (Auth0, Okta and others ask
	// for it).
	Audience string
	// ExtraParams are added to the token request's body, ExtraHeaders to its headers.
	ExtraParams  map[string]string
	ExtraHeaders map[string]string
}

// The OAuth client authentication methods, named as in the Svix API.
const (
	OAuthBasic = "clientSecretBasic"
	OAuthPost  = "clientSecretPost"
)
