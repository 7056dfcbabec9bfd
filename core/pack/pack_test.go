package pack

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Strings that YAML 1.1 or 1.2 readers could take for something else must
// come back as the same strings, and numbers as the same numbers.
func TestEncodeDecodeKeepsValuesExactly(t *testing.T) {
	tricky := []string{
		"", " ", "yes", "no", "on", "off", "y", "n", "Y", "true", "False", "null", "~", "NULL",
		"123", "0123", "0x1F", "0o17", "1e3", "1_000", "+1", "-0", ".inf", "-.Inf", ".nan", "NaN",
		"2024-01-01", "2024-01-01T10:00:00Z", "12:30:45", "- item", "key: value", "#comment", "a #b",
		"---", "...", "line1\nline2\n", "trailing space \n", "  leading", "tab\there", "quote\"s", "'single'",
		"{flow}", "[list]", "*alias", "&anchor", "!tag", "%directive", "@at", "`tick`", "|", ">",
		"ünïcödé ✓", "\u00a0nbsp", "crlf\r\nline", "line\n---\nnot a separator\n",
	}
	data := map[string]any{}
	for i, s := range tricky {
		data["k"+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = s
	}
	obj := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "tricky", "namespace": "ns", "managedFields": []any{map[string]any{"manager": "kubectl"}}},
		"data":     data,
		"spec":     map[string]any{"big": json.Number("9007199254740993"), "neg": json.Number("-42"), "float": json.Number("0.5"), "zero": json.Number("0")},
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := encodeRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc.YAML), "managedFields") {
		t.Errorf("managedFields kept:\n%s", doc.YAML)
	}
	content, names, err := Build([]Document{doc})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "tricky" {
		t.Errorf("names = %v", names)
	}
	objs, err := Decode(content)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, content)
	}
	if len(objs) != 1 {
		t.Fatalf("decoded %d objects from one document:\n%s", len(objs), content)
	}
	got, _, _ := unstructuredNestedMap(objs[0].Object, "data")
	for k, want := range data {
		if got[k] != want {
			t.Errorf("data[%s]: wrote %q, read back %#v\nYAML:\n%s", k, want, got[k], doc.YAML)
		}
	}
	spec, _, _ := unstructuredNestedMap(objs[0].Object, "spec")
	if spec["big"] != int64(9007199254740993) || spec["neg"] != int64(-42) || spec["float"] != 0.5 || spec["zero"] != int64(0) {
		t.Errorf("numbers changed: %#v", spec)
	}
}

func unstructuredNestedMap(obj map[string]any, key string) (map[string]any, bool, error) {
	m, ok := obj[key].(map[string]any)
	return m, ok, nil
}

func TestBuildSortsByNameAndRefusesDuplicates(t *testing.T) {
	docs := []Document{
		{Name: "b", YAML: []byte("metadata:\n  name: b\n")},
		{Name: "a", YAML: []byte("metadata:\n  name: a\n")},
		{Name: "c", YAML: []byte("metadata:\n  name: c")}, // no final newline
	}
	content, names, err := Build(docs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("names = %v", names)
	}
	want := "---\nmetadata:\n  name: a\n---\nmetadata:\n  name: b\n---\nmetadata:\n  name: c\n"
	if string(content) != want {
		t.Errorf("content:\n%s\nwant:\n%s", content, want)
	}
	var split []string
	for doc, err := range Documents(content) {
		if err != nil {
			t.Fatal(err)
		}
		split = append(split, string(doc))
	}
	if len(split) != 3 || split[2] != "metadata:\n  name: c\n" {
		t.Errorf("Documents split into %q", split)
	}
	if _, _, err := Build([]Document{{Name: "x"}, {Name: "x"}}); err == nil {
		t.Error("two documents named x: want an error")
	}
}

// The same object encodes to the same bytes every time: packs are named by
// the hash of their content, so an unchanged namespace must hash the same.
func TestEncodingIsDeterministic(t *testing.T) {
	raw := []byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","labels":{"z":"1","a":"2","m":"3"}},"data":{"b":"1","a":"2"}}`)
	first, err := encodeRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := encodeRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.YAML) != string(first.YAML) {
			t.Fatalf("encoding changed:\n%s\nvs\n%s", first.YAML, again.YAML)
		}
	}
}

func TestEncodeRejectsObjectWithoutName(t *testing.T) {
	if _, err := encodeRaw([]byte(`{"kind":"ConfigMap","metadata":{}}`)); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("want an error naming metadata.name, got %v", err)
	}
	if _, err := encodeRaw([]byte(`{not json`)); err == nil {
		t.Error("invalid JSON: want an error")
	}
}

func TestDocumentsRejectsContentWithoutSeparator(t *testing.T) {
	for _, err := range Documents([]byte("kind: ConfigMap\n")) {
		if err == nil {
			t.Error("want an error")
		}
	}
}

// FuzzRoundTrip: any JSON object with a name survives encode, build, decode.
func FuzzRoundTrip(f *testing.F) {
	f.Add("yes", "line\n---\nx", int64(1)<<60)
	f.Add("", "  ", int64(-1))
	f.Add("0x10", "key: value", int64(0))
	f.Fuzz(func(t *testing.T, s1, s2 string, n int64) {
		obj := map[string]any{
			"apiVersion": "example.com/v1", "kind": "Thing",
			"metadata": map[string]any{"name": "thing", "annotations": map[string]any{"a": s1, s1: s2}},
			"spec":     map[string]any{"s": s2, "n": n, "list": []any{s1, n, true, nil}},
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return // not representable as JSON (invalid UTF-8 keys are replaced)
		}
		doc, err := encodeRaw(raw)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		content, _, err := Build([]Document{doc})
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode(content)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, content)
		}
		if len(objs) != 1 {
			t.Fatalf("got %d objects:\n%s", len(objs), content)
		}
		gotJSON, _ := json.Marshal(objs[0].Object)
		var want, got any
		_ = json.Unmarshal(raw, &want)
		_ = json.Unmarshal(gotJSON, &got)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("round trip changed the object\nwant %s\ngot  %s\nYAML:\n%s", raw, gotJSON, content)
		}
	})
}

// encodeRaw encodes an object given as JSON through EncodeMap, numbers kept
// exact, as the backup's dynamic path does.
func encodeRaw(raw []byte) (Document, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return Document{}, err
	}
	return EncodeMap(obj)
}

// Encode keeps the JSON it is given, one line, in its field order: typed
// objects marshal in the API's field order, as the API server serves them.
func TestEncodeKeepsJSONAsGiven(t *testing.T) {
	in := `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"},"data":{"b":"1","a":"<&>"}}`
	doc, err := Encode("x", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(doc.YAML) != in+"\n" {
		t.Errorf("got %q, want %q", doc.YAML, in+"\n")
	}
	if _, err := Encode("", []byte(`{}`)); err == nil {
		t.Error("no name: want an error")
	}
	if _, err := Encode("x", []byte("{\n\"a\": 1}")); err == nil {
		t.Error("JSON over two lines: want an error")
	}
}

// Documents written as block-style YAML (by hand, or by another tool) are
// read too.
func TestDecodeReadsBlockYAML(t *testing.T) {
	objs, err := Decode([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"yes\"\n---\n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"b\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetName() != "a" || objs[1].GetName() != "b" || objs[0].Object["data"].(map[string]any)["k"] != "yes" {
		t.Errorf("decoded %v", objs)
	}
}

// Documents written one by one in name order make the content Build makes,
// byte for byte: the same objects give the same pack hash whichever way a
// backup wrote them.
func TestWriteDocumentMakesWhatBuildMakes(t *testing.T) {
	docs := []Document{{Name: "a", YAML: []byte("{\"a\":1}\n")}, {Name: "b", YAML: []byte("{\"b\":2}")}, {Name: "c", YAML: []byte("x: 3\n")}}
	built, _, err := Build(slices.Clone(docs))
	if err != nil {
		t.Fatal(err)
	}
	var written bytes.Buffer
	for _, d := range docs {
		if err := WriteDocument(&written, d); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(built, written.Bytes()) {
		t.Errorf("WriteDocument wrote\n%q\nBuild built\n%q", written.Bytes(), built)
	}
}
