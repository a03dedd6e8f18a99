package crypt

import (
	"context"
	"fmt"
	"maps"

	"github.com/hookd/hookd"
)

// Store is a hookd.Store that keeps secrets sealed at rest: every secret field is
// sealed before it reaches the wrapped store and opened when read back, so the rest
// of hookd only ever sees plain values. The secret fields are the endpoint's signing
// keys, its custom header values, its mTLS client key and its OAuth client secret; a new secret field is sealed and opened here,
// in sealEndpoint and openEndpoint, and Reseal re-seals it.
//
// SwapEndpointSecrets is not wrapped: it compares and writes stored (sealed) values,
// for Reseal.
type Store struct {
	hookd.Store
	sealer hookd.Sealer
}

var _ hookd.Store = (*Store)(nil)

// Wrap returns st with its secrets sealed by sealer.
func Wrap(st hookd.Store, sealer hookd.Sealer) *Store {
	return &Store{Store: st, sealer: sealer}
}

// Unwrap returns the store Wrap was given, which reads and writes sealed values.
func (s *Store) Unwrap() hookd.Store { return s.Store }

// mapSecrets returns a copy of e with every secret value passed through fn.
func mapSecrets(e *hookd.Endpoint, fn func(string) (string, error)) (*hookd.Endpoint, error) {
	out := *e
	if e.Secrets != nil {
		out.Secrets = make([]hookd.Secret, len(e.Secrets))
		for i, sec := range e.Secrets {
			k, err := fn(sec.Key)
			if err != nil {
				return nil, fmt.Errorf("endpoint %s: signing key: %w", e.ID, err)
			}
			out.Secrets[i] = sec
			out.Secrets[i].Key = k
		}
	}
	if e.Headers != nil {
		out.Headers = make(map[string]string, len(e.Headers))
		for name, v := range e.Headers {
			sv, err := fn(v)
			if err != nil {
				return nil, fmt.Errorf("endpoint %s: header %s: %w", e.ID, name, err)
			}
			out.Headers[name] = sv
		}
	}
	if e.ClientCert != nil {
		cc := *e.ClientCert
		var err error
		if cc.KeyPEM, err = fn(cc.KeyPEM); err != nil {
			return nil, fmt.Errorf("endpoint %s: client key: %w", e.ID, err)
		}
		out.ClientCert = &cc
	}
	if e.OAuth != nil {
		o := *e.OAuth
		var err error
		if o.ClientSecret, err = fn(o.ClientSecret); err != nil {
			return nil, fmt.Errorf("endpoint %s: OAuth client secret: %w", e.ID, err)
		}
		out.OAuth = &o
	}
	return &out, nil
}

func (s *Store) sealEndpoint(e *hookd.Endpoint) (*hookd.Endpoint, error) {
	return mapSecrets(e, s.sealer.Seal)
}

func (s *Store) openEndpoint(e *hookd.Endpoint) (*hookd.Endpoint, error) {
	return mapSecrets(e, s.sealer.Open)
}

func (s *Store) openEndpoints(eps []*hookd.Endpoint, err error) ([]*hookd.Endpoint, error) {
	if err != nil {
		return nil, err
	}
	for i, e := range eps {
		if eps[i], err = s.openEndpoint(e); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// CreateEndpoint stores ep with its secrets sealed; ep itself is not changed.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookd.Endpoint) error {
	sealed, err := s.sealEndpoint(ep)
	if err != nil {
		return err
	}
	return s.Store.CreateEndpoint(ctx, sealed)
}

// UpdateEndpoint stores ep with its secrets sealed; ep itself is not changed.
func (s *Store) UpdateEndpoint(ctx context.Context, ep *hookd.Endpoint) error {
	sealed, err := s.sealEndpoint(ep)
	if err != nil {
		return err
	}
	return s.Store.UpdateEndpoint(ctx, sealed)
}

// Endpoint returns the endpoint with its secrets opened.
func (s *Store) Endpoint(ctx context.Context, appID, idOrUID string) (*hookd.Endpoint, error) {
	e, err := s.Store.Endpoint(ctx, appID, idOrUID)
	if err != nil {
		return nil, err
	}
	return s.openEndpoint(e)
}

// Endpoints lists endpoints with their secrets opened.
func (s *Store) Endpoints(ctx context.Context, appID string, page hookd.Page) ([]*hookd.Endpoint, error) {
	return s.openEndpoints(s.Store.Endpoints(ctx, appID, page))
}

// AllEndpoints returns the application's endpoints with their secrets opened.
func (s *Store) AllEndpoints(ctx context.Context, appID string) ([]*hookd.Endpoint, error) {
	return s.openEndpoints(s.Store.AllEndpoints(ctx, appID))
}

// TroubledEndpoints lists troubled endpoints with their secrets opened.
func (s *Store) TroubledEndpoints(ctx context.Context, page hookd.Page) ([]*hookd.Endpoint, error) {
	return s.openEndpoints(s.Store.TroubledEndpoints(ctx, page))
}

// resealedSetting records the data key the last complete Reseal sealed everything
// under, so that a start does not scan every endpoint again.
const resealedSetting = "sealed_under"

// Reseal seals every secret of st (the raw store, not a Store) that is plain text or
// under an older data key with k's current data key, endpoint by endpoint, never
// undoing a change made meanwhile. It returns how many endpoints it re-sealed. Unless
// force, it does nothing when the last complete pass was under the current key.
func Reseal(ctx context.Context, st hookd.Store, k *Keyring, force bool) (int, error) {
	k.mu.RLock()
	current := k.current
	k.mu.RUnlock()
	if !force {
		if v, err := st.Setting(ctx, resealedSetting); err == nil && v == current {
			return 0, nil
		}
	}
	n := 0
	p := hookd.Page{Limit: 250, Ascending: true}
	for {
		apps, err := st.Apps(ctx, p)
		if err != nil {
			return n, fmt.Errorf("reseal: list applications: %w", err)
		}
		for _, a := range apps {
			eps, err := st.AllEndpoints(ctx, a.ID)
			if err != nil {
				return n, fmt.Errorf("reseal: list endpoints: %w", err)
			}
			for _, e := range eps {
				done, err := resealEndpoint(ctx, st, k, e)
				if err != nil {
					return n, err
				}
				if done {
					n++
				}
			}
		}
		if len(apps) < p.Limit {
			break
		}
		p.Iterator = apps[len(apps)-1].ID
	}
	if err := st.PutSetting(ctx, resealedSetting, current); err != nil {
		return n, fmt.Errorf("reseal: %w", err)
	}
	return n, nil
}

// resealEndpoint re-seals one endpoint unless all its secrets are current; when the
// endpoint changed between the read and the write, it reads it again.
func resealEndpoint(ctx context.Context, st hookd.Store, k *Keyring, e *hookd.Endpoint) (bool, error) {
	for range 5 {
		current := true
		for _, sec := range e.Secrets {
			current = current && k.IsCurrent(sec.Key)
		}
		for v := range maps.Values(e.Headers) {
			current = current && k.IsCurrent(v)
		}
		if e.ClientCert != nil {
			current = current && k.IsCurrent(e.ClientCert.KeyPEM)
		}
		if e.OAuth != nil {
			current = current && k.IsCurrent(e.OAuth.ClientSecret)
		}
		if current {
			return false, nil
		}
		next, err := mapSecrets(e, func(v string) (string, error) {
			plain, err := k.Open(v)
			if err != nil {
				return "", err
			}
			return k.Seal(plain)
		})
		if err != nil {
			return false, fmt.Errorf("reseal: %w", err)
		}
		ok, err := st.SwapEndpointSecrets(ctx, e, next)
		if err != nil {
			return false, fmt.Errorf("reseal: %w", err)
		}
		if ok {
			return true, nil
		}
		if e, err = st.Endpoint(ctx, e.AppID, e.ID); hookd.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("reseal: %w", err)
		}
	}
	return false, fmt.Errorf("reseal: endpoint %s keeps changing; run again", e.ID)
}
