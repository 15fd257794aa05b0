import { describe } from 'vitest';
import { itTypeChecks } from './type-check.js';

describe('@kv-session/express/compat types', () => {
  itTypeChecks(
    'an app importing only the drop-in gets req.session and req.sessionID typed (own tsc program)',
    new URL('../type-fixtures/compat-only/', import.meta.url),
  );
  itTypeChecks(
    'an app importing both entry points chooses the compat type with KvSessionApis.use; mw.of(req) serves native routes (built declarations)',
    new URL('../type-fixtures/compat-and-native/', import.meta.url),
  );
});
