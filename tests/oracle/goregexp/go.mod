module krw.test/oracle/goregexp

go 1.26.0
