package hookd

import (
	"context"
	"strings"
)

// RelayScheme is the URL scheme of relay endpoints (a hookd extension): deliveries to
// an endpoint whose URL is relay://… are not sent over the network but handed to a
// `hookd listen` connected to the server, which forwards them to a local URL and
// brings the answer back. Relay endpoints are made through the relay API only.
const RelayScheme = "relay"

// IsRelay reports whether the endpoint is a relay endpoint.
func (e *Endpoint) IsRelay() bool { return strings.HasPrefix(e.URL, RelayScheme+"://") }

// RelayRequest is one delivery handed to a relay listener: the request hookd would
// have sent, signed, headers and body exactly as they would have gone out.
type RelayRequest struct {
	// ID names the request, so the listener's answer finds its way back.
	ID         string
	AppID      string
	EndpointID string
	MsgID      string
	EventType  string
	// Path is the path and query of the endpoint's relay URL (after relay://HOST), for
	// the listener to append to its local URL; often empty.
	Path   string
	Header map[string][]string
	Body   []byte
}

// RelayResponse is what a relay listener brought back: the local handler's answer,
// or Error when the handler could not be reached.
type RelayResponse struct {
	Status int
	Header map[string][]string
	Body   []byte
	Error  string
}

// Relay connects relay endpoints with their listeners on this node.
type Relay interface {
	// Forward hands req to a listener of its endpoint and waits for the answer, until
	// ctx ends. With no listener connected it fails at once.
	Forward(ctx context.Context, req *RelayRequest) (*RelayResponse, error)
	// Poll waits up to the context's end for requests to the endpoint and returns at
	// most max of them (none if the wait ran out).
	Poll(ctx context.Context, appID, endpointID string, max int) []*RelayRequest
	// Answer delivers a listener's answer to the request it names. An unknown or
	// expired request is ENOTFOUND.
	Answer(appID, endpointID, requestID string, resp *RelayResponse) error
}
