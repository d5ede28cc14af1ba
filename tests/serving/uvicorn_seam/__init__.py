"""In-process tests of the serving layer's seam into uvicorn's HTTP protocol (app/serving/
uvicorn_seam and the modules it drives): a protocol instance on a recording transport, fed bytes
and events in an exact order, and the uvicorn internals the seam relies on. They are kept
together because they are the ones a uvicorn upgrade can break."""
