"""SOAP 1.1 at the edge: hardened parsing, schema validation, canonical answers, faults."""

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PROVISION_NS = "urn:hogo-gateway:provision:1"
PORTAL_NS = "urn:hogo-gateway:portal:1"
