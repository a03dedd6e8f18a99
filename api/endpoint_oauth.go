package api

import (
	"net/http"
	"strings"

	"github.com/hookd/hookd"
)

// endpointOAuthIn is the body of PUT …/endpoint/{endpoint_id}/oauth (Svix's
// EndpointOauthConfigIn) with hookd's audience extension.
type endpointOAuthIn struct {
	GrantType    *string           `json:"grantType"`
	AuthMethod   *string           `json:"authMethod"`
	ClientID     *string           `json:"clientId"`
	ClientSecret *string           `json:"clientSecret"`
	TokenURL     *string           `json:"tokenUrl"`
	Scopes       []string          `json:"scopes"`
	ExtraParams  map[string]string `json:"extraParams"`
	ExtraHeaders map[string]string `json:"extraHeaders"`
	JWTParams    any               `json:"jwtParams"`
	RefreshToken *string           `json:"refreshToken"`
	Audience     *string           `json:"audience"`
}

// endpointOAuthOut is Svix's EndpointOauthConfigOut with the audience extension; the
// client secret is never answered.
type endpointOAuthOut struct {
	GrantType    string            `json:"grantType"`
	AuthMethod   string            `json:"authMethod"`
	ClientID     string            `json:"clientId"`
	TokenURL     string            `json:"tokenUrl"`
	Scopes       []string          `json:"scopes"`
	ExtraParams  map[string]string `json:"extraParams"`
	ExtraHeaders map[string]string `json:"extraHeaders"`
	Audience     *string           `json:"audience"`
}

// endpointOAuthStateOut is Svix's EndpointOauthOut.
type endpointOAuthStateOut struct {
	Enabled bool              `json:"enabled"`
	Config  *endpointOAuthOut `json:"config"`
}

// grantClientCredentials is the only grant hookd supports.
const grantClientCredentials = "clientCredentials"

func oauthOut(o *hookd.OAuthClient) *endpointOAuthOut {
	out := &endpointOAuthOut{GrantType: grantClientCredentials, AuthMethod: o.AuthMethod, ClientID: o.ClientID,
		TokenURL: o.TokenURL, Scopes: o.Scopes, ExtraParams: o.ExtraParams, ExtraHeaders: o.ExtraHeaders}
	if o.Audience != "" {
		out.Audience = &o.Audience
	}
	return out
}

func (s *Server) getEndpointOAuth(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if e.OAuth == nil {
		return hookd.Errorf(hookd.ENOTFOUND, "the endpoint has no OAuth configuration")
	}
	writeJSON(w, http.StatusOK, oauthOut(e.OAuth))
	return nil
}

func (s *Server) getEndpointOAuthConfig(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	out := endpointOAuthStateOut{}
	if e.OAuth != nil {
		out.Enabled, out.Config = true, oauthOut(e.OAuth)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) setEndpointOAuth(w http.ResponseWriter, r *http.Request) error {
	var in endpointOAuthIn
	if err := decode(r, &in); err != nil {
		return err
	}
	o, err := in.config()
	if err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	if err := s.checkHTTPS(r, a, "tokenUrl", o.TokenURL); err != nil {
		return err
	}
	return s.changeEndpoint(w, r, func(e *hookd.Endpoint) { e.OAuth = o })
}

// config validates in, naming the field at fault.
func (in *endpointOAuthIn) config() (*hookd.OAuthClient, error) {
	if in.GrantType == nil || *in.GrantType != grantClientCredentials {
		return nil, invalid("grantType", "grantType must be clientCredentials; hookd does not support the refreshToken grant")
	}
	o := &hookd.OAuthClient{}
	switch {
	case in.AuthMethod == nil:
		return nil, invalid("authMethod", "authMethod is required: clientSecretBasic or clientSecretPost")
	case *in.AuthMethod == hookd.OAuthBasic || *in.AuthMethod == hookd.OAuthPost:
		o.AuthMethod = *in.AuthMethod
	default:
		return nil, invalid("authMethod", "authMethod must be clientSecretBasic or clientSecretPost; hookd does not support clientSecretJwt")
	}
	if in.JWTParams != nil {
		return nil, invalid("jwtParams", "jwtParams is only for clientSecretJwt, which hookd does not support")
	}
	if in.RefreshToken != nil {
		return nil, invalid("refreshToken", "refreshToken is only for the refreshToken grant, which hookd does not support")
	}
	if in.ClientID == nil || *in.ClientID == "" || len(*in.ClientID) > 1024 {
		return nil, invalid("clientId", "clientId is required (at most 1024 characters)")
	}
	o.ClientID = *in.ClientID
	if in.ClientSecret == nil || *in.ClientSecret == "" || len(*in.ClientSecret) > 4096 {
		return nil, invalid("clientSecret", "clientSecret is required (at most 4096 characters)")
	}
	o.ClientSecret = *in.ClientSecret
	if in.TokenURL == nil {
		return nil, invalid("tokenUrl", "tokenUrl is required")
	}
	if _, err := hookd.ParseEndpointURL(*in.TokenURL); err != nil {
		// The same rules as an endpoint's URL, told about this field.
		return nil, invalid("tokenUrl", "tokenUrl"+strings.TrimPrefix(hookd.ErrorMessage(err), "url"))
	}
	o.TokenURL = *in.TokenURL
	if len(in.Scopes) > 100 {
		return nil, invalid("scopes", "at most 100 scopes")
	}
	for _, sc := range in.Scopes {
		// RFC 6749 section 3.3: printable ASCII but space, '"' and '\'.
		if sc == "" || len(sc) > 256 || strings.ContainsFunc(sc, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '"' || r == '\\' }) {
			return nil, invalid("scopes", "scope "+quote(sc)+" is not an OAuth scope token")
		}
	}
	if len(in.Scopes) > 0 {
		o.Scopes = in.Scopes
	}
	if in.Audience != nil {
		o.Audience = *in.Audience
	}
	if err := checkMetadata("extraParams", in.ExtraParams); err != nil {
		return nil, err
	}
	for k := range in.ExtraParams {
		switch k {
		case "grant_type", "client_id", "client_secret", "scope", "audience":
			return nil, invalid("extraParams", "extraParams cannot set "+k+", which hookd sends itself")
		}
	}
	if len(in.ExtraParams) > 0 {
		o.ExtraParams = in.ExtraParams
	}
	for k, v := range in.ExtraHeaders {
		if err := checkHeader(k, v); err != nil {
			return nil, invalid("extraHeaders", hookd.ErrorMessage(err))
		}
	}
	if len(in.ExtraHeaders) > 0 {
		o.ExtraHeaders = in.ExtraHeaders
	}
	return o, nil
}

func (s *Server) deleteEndpointOAuth(w http.ResponseWriter, r *http.Request) error {
	return s.changeEndpoint(w, r, func(e *hookd.Endpoint) { e.OAuth = nil })
}
