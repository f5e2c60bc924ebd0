/**
 * `tulle/wire`: the encapsulation library, @tulle/wire, under tulle's own name. The codecs live in their own
 * package (packages/wire) so that a project that needs only them installs no compiler and no daemon.
 */
export * from '@tulle/wire';
