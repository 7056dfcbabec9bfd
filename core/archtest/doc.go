// Package archtest holds the test that keeps kbackup's packages in their
// places: the import rules written in docs/development.md, core free of
// front-end libraries, and one reader of a manifest's pack list.
package archtest
