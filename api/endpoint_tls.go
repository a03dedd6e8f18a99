package api

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// maxPEMBytes bounds a client identity or a CA bundle.
const maxPEMBytes = 64 << 10

// endpointMTLSIn is the body of PUT …/endpoint/{endpoint_id}/mtls (Svix's
// EndpointMtlsConfigIn): the private key and certificate chain, PEM, in one string.
type endpointMTLSIn struct {
	Identity *string `json:"identity"`
}

// endpointMTLSOut describes an endpoint's client certificate, never its key. Svix's
// EndpointMtlsConfigOut is an empty object; the fields are hookd extensions.
type endpointMTLSOut struct {
	Certificate string    `json:"certificate"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	SHA256      string    `json:"fingerprintSha256"`
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
}

// endpointCAIn is the body of PUT …/endpoint/{endpoint_id}/ca (Svix's
// EndpointServerCaIn); a null cert goes back to the system's roots.
type endpointCAIn struct {
	Cert *string `json:"cert"`
}

// endpointCAOut is Svix's EndpointServerCaOut with hookd's expiry extension: the
// earliest NotAfter of the bundle's certificates.
type endpointCAOut struct {
	Cert     *string    `json:"cert"`
	NotAfter *time.Time `json:"notAfter"`
}

func mtlsOut(cc *hookd.ClientCert) (endpointMTLSOut, error) {
	leaf, err := cc.Leaf()
	if err != nil {
		return endpointMTLSOut{}, err
	}
	sum := sha256.Sum256(leaf.Raw)
	return endpointMTLSOut{
		Certificate: cc.CertPEM, Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		SHA256: hex.EncodeToString(sum[:]), NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(),
	}, nil
}

func (s *Server) getEndpointMTLS(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if e.ClientCert == nil {
		return hookd.Errorf(hookd.ENOTFOUND, "the endpoint has no mTLS client certificate")
	}
	out, err := mtlsOut(e.ClientCert)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// endpointMTLSStateOut is Svix's EndpointMtlsOut: whether a client certificate is set,
// and which.
type endpointMTLSStateOut struct {
	Enabled bool             `json:"enabled"`
	Config  *endpointMTLSOut `json:"config"`
}

func (s *Server) getEndpointMTLSConfig(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	out := endpointMTLSStateOut{}
	if e.ClientCert != nil {
		c, err := mtlsOut(e.ClientCert)
		if err != nil {
			return err
		}
		out.Enabled, out.Config = true, &c
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) setEndpointMTLS(w http.ResponseWriter, r *http.Request) error {
	var in endpointMTLSIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Identity == nil || *in.Identity == "" {
		return invalid("identity", "identity is required: a PEM private key and X.509 certificate")
	}
	if len(*in.Identity) > maxPEMBytes {
		return invalid("identity", "identity is larger than 64 KiB")
	}
	cc, leaf, err := hookd.ParseClientIdentity(*in.Identity)
	if err != nil {
		return invalid("identity", "identity: "+err.Error())
	}
	if now := s.now(); !now.Before(leaf.NotAfter) {
		return invalid("identity", "the certificate expired on "+leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if !usableForClientAuth(leaf) {
		return invalid("identity", "the certificate's extended key usage does not allow TLS client authentication")
	}
	return s.changeEndpoint(w, r, func(e *hookd.Endpoint) { e.ClientCert = cc })
}

// usableForClientAuth reports whether a TLS server would accept leaf as a client
// certificate as far as its extended key usage goes.
func usableForClientAuth(leaf *x509.Certificate) bool {
	if len(leaf.ExtKeyUsage) == 0 {
		return true
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func (s *Server) deleteEndpointMTLS(w http.ResponseWriter, r *http.Request) error {
	return s.changeEndpoint(w, r, func(e *hookd.Endpoint) { e.ClientCert = nil })
}

func (s *Server) getEndpointCA(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	out := endpointCAOut{}
	if e.ServerCA != "" {
		out.Cert = &e.ServerCA
		if _, certs, err := hookd.ParseCertPool(e.ServerCA); err == nil {
			first := certs[0].NotAfter.UTC()
			for _, c := range certs[1:] {
				if c.NotAfter.Before(first) {
					first = c.NotAfter.UTC()
				}
			}
			out.NotAfter = &first
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) setEndpointCA(w http.ResponseWriter, r *http.Request) error {
	var in endpointCAIn
	if err := decode(r, &in); err != nil {
		return err
	}
	ca := ""
	if in.Cert != nil && *in.Cert != "" {
		if len(*in.Cert) > maxPEMBytes {
			return invalid("cert", "cert is larger than 64 KiB")
		}
		if _, _, err := hookd.ParseCertPool(*in.Cert); err != nil {
			return invalid("cert", "cert: "+err.Error())
		}
		ca = *in.Cert
	}
	return s.changeEndpoint(w, r, func(e *hookd.Endpoint) { e.ServerCA = ca })
}

// changeEndpoint applies change to the path's endpoint, stores it and answers 204.
func (s *Server) changeEndpoint(w http.ResponseWriter, r *http.Request, change func(*hookd.Endpoint)) error {
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	change(e)
	e.UpdatedAt = s.now()
	if err := s.store.UpdateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.updated", a, e)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
