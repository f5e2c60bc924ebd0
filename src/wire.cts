/** `require('tulle/wire')`: the CommonJS build of @tulle/wire, for Node versions that cannot require an ES module. */
import wire = require('@tulle/wire');
export = wire;
