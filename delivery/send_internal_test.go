package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// BenchmarkSend measures the send path alone: build the request, sign it with the
// standard profile and POST it to a loopback receiver, reading the response. It is
// an internal benchmark because the send path is not exported.
func BenchmarkSend(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(rc.Close)
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	d, err := New(Config{Store: st, AllowPrivate: true})
	if err != nil {
		b.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: "ep_1", AppID: "app_1", URL: rc.URL, Headers: map[string]string{"X-Tenant": "acme"}}
	info := &endpointInfo{ep: ep, timeout: 5 * time.Second}
	info.signer, err = d.newSigner("", "", []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		b.Fatal(err)
	}
	dl := &hookd.Delivery{ID: "dlv_1", AppID: "app_1", MsgID: "msg_1", EndpointID: "ep_1",
		Message: &hookd.Message{ID: "msg_1", Payload: []byte(`{"type":"invoice.paid","data":{"id":"in_1234567890","amount":4200}}`)}}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := d.send(ctx, info, dl); r.code != 200 {
				b.Fatalf("send: %d %s", r.code, r.err)
			}
		}
	})
}
