package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/api"
)

// TestOpenAPIMatchesRoutes fails when a route is served but not documented, or
// documented but not served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	served := api.New(api.Config{}).Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("%s is in openapi.json but not served", r)
		}
	}
}

// TestOpenAPIExtensions checks that the hookd extension fields are documented.
func TestOpenAPIExtensions(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		schema string
		fields []string
	}{
		{"EndpointIn", []string{"url", "filterTypes", "rateLimit", "signatureProfile", "retrySchedule", "timeoutMs", "payloadFilter"}},
		{"EndpointOut", []string{"id", "version", "filterTypes", "rateLimit", "signatureProfile", "retrySchedule", "timeoutMs", "payloadFilter"}},
		{"EndpointPatch", []string{"signatureProfile", "retrySchedule", "timeoutMs", "payloadFilter"}},
		{"EndpointUpdate", []string{"payloadFilter"}},
		{"ApplicationIn", []string{"name", "rateLimit", "retrySchedule"}},
		{"EventTypeIn", []string{"name", "retrySchedule", "enforceSchema"}},
		{"EventTypeOut", []string{"enforceSchema"}},
		{"EventTypePatch", []string{"enforceSchema"}},
		{"MessageIn", []string{"eventType", "payload", "eventId", "channels", "tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			s, ok := doc.Components.Schemas[tt.schema]
			if !ok {
				t.Fatalf("schema %s missing", tt.schema)
			}
			for _, f := range tt.fields {
				if _, ok := s.Properties[f]; !ok {
					t.Errorf("%s.%s not documented", tt.schema, f)
				}
			}
		})
	}
}
