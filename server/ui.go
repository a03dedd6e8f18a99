package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/ui"
)

// SessionKeySetting holds the key of the dashboard's and the portal's session cookies
// (hex), made by the first node that starts and shared by every node of the store.
const SessionKeySetting = "ui_session_key"

// newUI makes the dashboard and portal pages over the store and the API.
func (s *Server) newUI(ctx context.Context) (*ui.Handler, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("generate session key: %w", err)
	}
	stored, err := s.store.PutSettingIfAbsent(ctx, SessionKeySetting, hex.EncodeToString(b[:]))
	if err != nil {
		return nil, fmt.Errorf("store session key: %w", err)
	}
	key, err := hex.DecodeString(stored)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("setting %s is not 32 bytes of hex", SessionKeySetting)
	}
	return ui.New(ui.Config{
		Store:            s.store,
		API:              s.api,
		AuthenticateFunc: s.authenticate,
		SessionKey:       key,
		LiveNodesFunc:    s.liveNodes,
		FrameAncestors:   s.cfg.PortalFrameAncestors,
		Brand:            ui.Brand{Name: s.cfg.PortalBrandName, LogoURL: s.cfg.PortalBrandLogo, Color: s.cfg.PortalBrandColor},
		Now:              s.now,
		Logger:           s.log,
	})
}

// authenticate checks a page session's credential with the API's own check: admin
// API keys sign in to the dashboard, application-scoped tokens open the portal.
func (s *Server) authenticate(ctx context.Context, token string) (ui.Principal, error) {
	t, err := s.api.Authenticate(ctx, token)
	if err != nil {
		return ui.Principal{}, err
	}
	if t.Kind == hookd.TokenApp {
		return ui.Principal{AppID: t.AppID, ReadOnly: !t.Can(hookd.CapManageEndpoint, hookd.CapManageEndpointSecret, hookd.CapCreateAttempts)}, nil
	}
	return ui.Principal{ReadOnly: t.ReadOnly}, nil
}

// liveNodes is the dispatcher's count of the nodes sharing the store.
func (s *Server) liveNodes() int {
	if d := s.dlv.d.Load(); d != nil {
		return d.Nodes()
	}
	return 1
}

// redirectToUI sends a browser asking for / to the dashboard.
func redirectToUI(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/ui/", http.StatusFound)
}

// DashboardURL returns the dashboard's address, such as http://127.0.0.1:8071/ui/.
func (s *Server) DashboardURL() string {
	if s.ln == nil {
		return ""
	}
	return s.URL() + "/ui/"
}
