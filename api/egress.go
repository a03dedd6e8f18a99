package api

import "net/http"

// egressOut is the body of GET /api/v1/egress-ips, a hookd extension.
type egressOut struct {
	// EgressIPs are the source addresses (single addresses, or networks in CIDR
	// notation) that deliveries come from, for receivers to allowlist. Empty when the
	// operator has not published any.
	EgressIPs []string `json:"egressIps"`
}

// egressIPs publishes the addresses the operator set with --egress-ips.
func (s *Server) egressIPs(w http.ResponseWriter, _ *http.Request) error {
	out := egressOut{EgressIPs: make([]string, 0, len(s.cfg.EgressIPs))}
	for _, p := range s.cfg.EgressIPs {
		if p.IsSingleIP() {
			out.EgressIPs = append(out.EgressIPs, p.Addr().String())
		} else {
			out.EgressIPs = append(out.EgressIPs, p.String())
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
