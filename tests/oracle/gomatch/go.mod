module krw.test/oracle/gomatch

go 1.26.0
