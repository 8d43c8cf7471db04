UPDATE roles SET permissions = array_remove(array_remove(permissions, 'devices:read'), 'devices:write');
DROP TABLE IF EXISTS devices;
