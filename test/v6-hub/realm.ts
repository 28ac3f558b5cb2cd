// The Keycloak realm a vantage6 5.0 hub runs on, written here from what vantage6 5.0.3 sets up
// (its auth chart's realm import with the values `v6 sandbox` gives it, and HQ's defaults in the
// CLI's hq_config.j2 / hub_config.j2): the realm `vantage6`; the realm's admin user, who is HQ's
// root user (KEYCLOAK_ADMIN_USERNAME); `public_client`, the public client that users log in
// through (device authorization grant, as the Python client 5.0.3 and the UI do);
// `backend-admin-client`, the confidential client whose service account HQ uses to create
// nodes' and users' Keycloak clients; and the user profile with an `organization_id` attribute,
// which HQ writes on its users.

export const REALM = 'vantage6';
/** HQ's root user: the realm user HQ finds by KEYCLOAK_ADMIN_USERNAME on its first start. */
export const HUB_ADMIN = { username: 'admin', password: 'admin' };
export const PUBLIC_CLIENT = 'public_client';
export const BACKEND_ADMIN_CLIENT = { clientId: 'backend-admin-client', secret: 'myadminclientsecret' };
/** Keycloak's own bootstrap admin in the master realm (KC_BOOTSTRAP_ADMIN_*), only for creating the realm. */
export const MASTER_ADMIN = { username: 'kcadmin', password: 'kcadmin' };

/** A user-profile attribute anyone may see and users may edit (Keycloak's defaults for the four it predefines). */
function attribute(name: string, validations: Record<string, unknown>, required: boolean) {
  return {
    name,
    displayName: `\${${name}}`,
    validations,
    ...(required ? { required: { roles: ['user'] } } : {}),
    permissions: { view: ['admin', 'user'], edit: ['admin', 'user'] },
  };
}

const userProfile = {
  attributes: [
    attribute('username', { length: { min: 3, max: 255 }, 'username-prohibited-characters': {}, 'up-username-not-idn-homograph': {} }, false),
    attribute('email', { email: {}, length: { max: 255 } }, true),
    attribute('firstName', { length: { max: 255 }, 'person-name-prohibited-characters': {} }, true),
    attribute('lastName', { length: { max: 255 }, 'person-name-prohibited-characters': {} }, true),
    // HQ sets this on every user it makes (and on its root user), and reads it back.
    { name: 'organization_id', displayName: 'Organization ID', permissions: { view: ['admin', 'user'], edit: ['admin'] } },
  ],
};

/** The realm as a Keycloak RealmRepresentation, for `POST /admin/realms`. */
export function realmRepresentation(): Record<string, unknown> {
  return {
    realm: REALM,
    enabled: true,
    accessTokenLifespan: 300,
    ssoSessionIdleTimeout: 1800,
    editUsernameAllowed: false,
    resetPasswordAllowed: false,
    verifyEmail: false,
    bruteForceProtected: false,
    users: [
      {
        username: HUB_ADMIN.username,
        enabled: true,
        email: 'admin@vantage6.org',
        firstName: 'Admin',
        lastName: 'Admin',
        // `v6 sandbox` sets passwordUpdateRequired: false, so no UPDATE_PASSWORD required action.
        credentials: [{ type: 'password', value: HUB_ADMIN.password, temporary: false }],
        realmRoles: [`default-roles-${REALM}`],
      },
      {
        username: `service-account-${BACKEND_ADMIN_CLIENT.clientId}`,
        enabled: true,
        serviceAccountClientId: BACKEND_ADMIN_CLIENT.clientId,
        clientRoles: { 'realm-management': ['view-users', 'manage-users', 'view-clients', 'manage-clients', 'create-client'] },
      },
    ],
    clients: [
      {
        clientId: PUBLIC_CLIENT,
        publicClient: true,
        attributes: { 'oauth2.device.authorization.grant.enabled': 'true' },
        redirectUris: ['http://localhost:7600/*'],
        webOrigins: ['+'],
        protocolMappers: [
          {
            name: 'vantage6_client_type',
            protocol: 'openid-connect',
            protocolMapper: 'oidc-hardcoded-claim-mapper',
            consentRequired: false,
            config: { 'claim.name': 'vantage6_client_type', 'claim.value': 'user', 'access.token.claim': 'true' },
          },
        ],
      },
      {
        clientId: BACKEND_ADMIN_CLIENT.clientId,
        publicClient: false,
        secret: BACKEND_ADMIN_CLIENT.secret,
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
      },
    ],
    components: {
      'org.keycloak.userprofile.UserProfileProvider': [
        { providerId: 'declarative-user-profile', subComponents: {}, config: { 'kc.user.profile.config': [JSON.stringify(userProfile)] } },
      ],
    },
  };
}
