// FaxdConfiguration carries the service layers' settings; code that reads the configuration
// through Engine sees their types without importing ServiceSettings itself.
@_exported import ServiceSettings
