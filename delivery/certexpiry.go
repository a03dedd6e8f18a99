package delivery

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

// EventEndpointMTLSExpiring is the operational event sent once per client
// certificate, hookd.CertExpiryWarning before it expires.
const EventEndpointMTLSExpiring = "endpoint.mtls.expiring"

// mtlsExpiringData is the data of the endpoint.mtls.expiring operational event.
type mtlsExpiringData struct {
	AppID       string    `json:"appId"`
	AppUID      string    `json:"appUid,omitempty"`
	EndpointID  string    `json:"endpointId"`
	EndpointUID string    `json:"endpointUid,omitempty"`
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"notAfter"`
}

// checkCertExpiry sends endpoint.mtls.expiring when ep's client certificate expires
// within hookd.CertExpiryWarning of now: once per certificate among all the nodes
// sharing the store (a setting records it), whenever the endpoint is next sent to.
func (d *Dispatcher) checkCertExpiry(ctx context.Context, ep *hookd.Endpoint, now time.Time) {
	leaf, err := ep.ClientCert.Leaf()
	if err != nil || now.Add(hookd.CertExpiryWarning).Before(leaf.NotAfter) {
		return
	}
	key := "mtls_expiring/" + ep.ID + "/" + strconv.FormatInt(leaf.NotAfter.Unix(), 10)
	d.opsMu.Lock()
	warned := d.certWarned[key]
	if d.certWarned == nil {
		d.certWarned = map[string]bool{}
	}
	d.certWarned[key] = true
	d.opsMu.Unlock()
	if warned {
		return
	}
	d.log.Warn("endpoint client certificate expiring", "app", ep.AppID, "endpoint", ep.ID,
		"subject", leaf.Subject.String(), "notAfter", leaf.NotAfter.UTC())
	stamp := now.UTC().Format(time.RFC3339Nano)
	if got, err := d.store.PutSettingIfAbsent(ctx, key, stamp); err != nil || got != stamp {
		return // failed, or another node (or an earlier run) has sent it
	}
	err = d.Emit(ctx, EventEndpointMTLSExpiring, mtlsExpiringData{
		AppID: ep.AppID, AppUID: d.appUID(ctx, ep.AppID), EndpointID: ep.ID, EndpointUID: ep.UID,
		Subject: leaf.Subject.String(), NotAfter: leaf.NotAfter.UTC(),
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		d.log.Error("emit operational event", "type", EventEndpointMTLSExpiring, "err", err)
	}
}
