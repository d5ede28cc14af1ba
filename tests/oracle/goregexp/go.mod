module krw.test/oracle/goregexp

go 1.27.0
