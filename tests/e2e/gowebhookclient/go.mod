module krw.test/e2e/gowebhookclient

go 1.26.0
