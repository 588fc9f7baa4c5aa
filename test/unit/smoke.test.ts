import t from 'tap';
import { cacheKey } from '../../src/core/types.ts';
t.equal(cacheKey('ConfigMap', 'ns', 'a'), 'ConfigMap/ns/a');
