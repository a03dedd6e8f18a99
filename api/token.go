package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Limits of application-scoped tokens, as the Svix contract states them.
const (
	appTokenMinExpiry     = time.Hour
	appTokenMaxExpiry     = 7 * 24 * time.Hour
	appTokenExpireAllMax  = 72 * time.Hour
	apiKeyMinExpiry       = time.Minute
	maxFeatureFlags       = 25
	maxExpireAllSessionID = 1000
)

// sessionPattern is what Svix allows in session IDs.
var sessionPattern = regexp.MustCompile(`^[a-zA-Z0-9@_-]+$`)

type appPortalAccessIn struct {
	Application  *applicationIn `json:"application"`
	ReadOnly     *bool          `json:"readOnly"`
	Capabilities []string       `json:"capabilities"`
	FeatureFlags []string       `json:"featureFlags"`
	Expiry       *int64         `json:"expiry"`
	SessionID    *string        `json:"sessionId"`
}

type appPortalAccessOut struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

func checkSessionID(field, id string) error {
	if id == "" || len(id) > 64 || !sessionPattern.MatchString(id) {
		return invalid(field, field+" must be 1 to 64 letters, digits, '@', '_' or '-'")
	}
	return nil
}

// check validates in and returns the token it asks for (without ID and hash).
func (in *appPortalAccessIn) token(now time.Time) (*hookd.Token, error) {
	t := &hookd.Token{Kind: hookd.TokenApp, CreatedAt: now}
	expiry := appTokenMaxExpiry
	if in.Expiry != nil {
		expiry = time.Duration(*in.Expiry) * time.Second
		if *in.Expiry < int64(appTokenMinExpiry/time.Second) || *in.Expiry > int64(appTokenMaxExpiry/time.Second) {
			return nil, invalid("expiry", "expiry must be between 3600 (1 hour) and 604800 (7 days) seconds")
		}
	}
	exp := now.Add(expiry)
	t.ExpiresAt = &exp
	switch {
	case in.ReadOnly != nil && *in.ReadOnly:
		t.Capabilities = []hookd.Capability{hookd.CapViewBase}
	case in.Capabilities == nil:
		t.Capabilities = slices.Clone(hookd.AllCapabilities)
	default:
		for _, c := range in.Capabilities {
			if !slices.Contains(hookd.AllCapabilities, hookd.Capability(c)) {
				return nil, invalid("capabilities", "unknown capability "+quote(c)+"; known: "+capList(hookd.AllCapabilities))
			}
			if !slices.Contains(t.Capabilities, hookd.Capability(c)) {
				t.Capabilities = append(t.Capabilities, hookd.Capability(c))
			}
		}
		if !slices.Contains(t.Capabilities, hookd.CapViewBase) {
			return nil, invalid("capabilities", "capabilities must include ViewBase")
		}
	}
	if len(in.FeatureFlags) > maxFeatureFlags {
		return nil, invalid("featureFlags", "at most 25 feature flags")
	}
	if err := hookd.CheckNames("featureFlags", in.FeatureFlags, 256); err != nil {
		return nil, err
	}
	t.FeatureFlags = slices.Compact(slices.Sorted(slices.Values(in.FeatureFlags)))
	if in.SessionID != nil {
		if err := checkSessionID("sessionId", *in.SessionID); err != nil {
			return nil, err
		}
		t.SessionID = *in.SessionID
	}
	return t, nil
}

// appPortalAccess issues an application-scoped token for the path's application,
// creating the application first if it is missing and the body describes it.
func (s *Server) appPortalAccess(w http.ResponseWriter, r *http.Request) error {
	var in appPortalAccessIn
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := in.token(s.now())
	if err != nil {
		return err
	}
	a, err := s.messageApp(r, in.Application)
	if err != nil {
		return err
	}
	token := hookd.NewToken(hookd.PrefixAppToken)
	t.ID, t.AppID, t.Hash = s.cfg.IDs.New(hookd.PrefixAppTokenID), a.ID, hookd.HashToken(token)
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appPortalAccessOut{URL: s.portalURL(token), Token: token})
	return nil
}

// portalURL is where the customer portal opens for token; the token travels in the
// fragment, which browsers never send to a server or in a Referer.
func (s *Server) portalURL(token string) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/portal#key=" + token
}

type appTokenExpireIn struct {
	Expiry     *int64   `json:"expiry"`
	SessionIDs []string `json:"sessionIds"`
}

// expireAppTokens expires the application's tokens (of some sessions) now or after
// a delay.
func (s *Server) expireAppTokens(w http.ResponseWriter, r *http.Request) error {
	var in appTokenExpireIn
	if err := decode(r, &in); err != nil {
		return err
	}
	delay, err := expireDelay(in.Expiry)
	if err != nil {
		return err
	}
	if len(in.SessionIDs) > maxExpireAllSessionID {
		return invalid("sessionIds", "at most 1000 session IDs")
	}
	for _, id := range in.SessionIDs {
		if err := checkSessionID("sessionIds", id); err != nil {
			return err
		}
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	if _, err := s.store.ExpireAppTokens(r.Context(), a.ID, in.SessionIDs, s.now().Add(delay)); err != nil {
		return err
	}
	s.tokens.clear()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// expireDelay reads the expiry of expire-all and of an API key's expire: seconds from
// now, 0 (the default) to 3 days.
func expireDelay(expiry *int64) (time.Duration, error) {
	if expiry == nil {
		return 0, nil
	}
	if *expiry < 0 || *expiry > int64(appTokenExpireAllMax/time.Second) {
		return 0, invalid("expiry", "expiry must be between 0 and 259200 seconds (3 days)")
	}
	return time.Duration(*expiry) * time.Second, nil
}

// logout expires the application token the request carries.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	t := requestToken(r)
	if err := s.store.ExpireToken(r.Context(), t.ID, s.now()); err != nil {
		return err
	}
	s.tokens.clear()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiKeyOut is an admin API key as listed: never the key itself.
type apiKeyOut struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ReadOnly  bool       `json:"readOnly"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
	Expired   bool       `json:"expired"`
}

// apiKeyCreatedOut is a new key: the only answer that carries it.
type apiKeyCreatedOut struct {
	apiKeyOut
	Key string `json:"key"`
}

type apiKeyIn struct {
	Name     *string `json:"name"`
	ReadOnly bool    `json:"readOnly"`
	// Expiry is in seconds from now; absent: never.
	Expiry *int64 `json:"expiry"`
}

type apiKeyExpireIn struct {
	Expiry *int64 `json:"expiry"`
}

func (s *Server) keyOut(t *hookd.Token) apiKeyOut {
	out := apiKeyOut{ID: t.ID, Name: t.Name, ReadOnly: t.ReadOnly, CreatedAt: t.CreatedAt.UTC(), Expired: t.Expired(s.now())}
	if t.ExpiresAt != nil {
		at := t.ExpiresAt.UTC()
		out.ExpiresAt = &at
	}
	return out
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	keys, err := s.store.Tokens(r.Context(), hookd.TokenAdmin, probe(p))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(p, keys, func(t *hookd.Token) string { return t.ID }, s.keyOut))
	return nil
}

// NewAPIKey returns a new admin key named name and the key's secret, valid until
// expires (nil: never). Callers store the token; the secret is shown once.
func NewAPIKey(ids hookd.IDGen, name string, readOnly bool, now time.Time, expires *time.Time) (*hookd.Token, string) {
	key := hookd.NewToken(hookd.PrefixAdminKey)
	return &hookd.Token{ID: ids.New(hookd.PrefixAPIKeyID), Kind: hookd.TokenAdmin, Name: name,
		Hash: hookd.HashToken(key), ReadOnly: readOnly, CreatedAt: now, ExpiresAt: expires}, key
}

// CheckKeyName validates an admin key's name.
func CheckKeyName(name string) error { return hookd.CheckName("name", name, 64) }

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in apiKeyIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return invalid("name", "name is required")
	}
	if err := CheckKeyName(*in.Name); err != nil {
		return err
	}
	now := s.now()
	var expires *time.Time
	if in.Expiry != nil {
		if *in.Expiry < int64(apiKeyMinExpiry/time.Second) {
			return invalid("expiry", "expiry must be at least 60 seconds (leave it out for a key that does not expire)")
		}
		at := now.Add(time.Duration(min(*in.Expiry, 100*365*24*3600)) * time.Second)
		expires = &at
	}
	t, key := NewAPIKey(s.cfg.IDs, *in.Name, in.ReadOnly, now, expires)
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiKeyCreatedOut{apiKeyOut: s.keyOut(t), Key: key})
	return nil
}

func (s *Server) expireAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in apiKeyExpireIn
	if err := decode(r, &in); err != nil {
		return err
	}
	delay, err := expireDelay(in.Expiry)
	if err != nil {
		return err
	}
	id := r.PathValue("key_id")
	if !strings.HasPrefix(id, hookd.PrefixAPIKeyID) {
		return hookd.Errorf(hookd.ENOTFOUND, "API key not found")
	}
	if err := s.store.ExpireToken(r.Context(), id, s.now().Add(delay)); err != nil {
		return err
	}
	s.tokens.clear()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
